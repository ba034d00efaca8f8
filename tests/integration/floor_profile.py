#!/usr/bin/env python3
"""Keeps bench/floor.c in step with sworn: runs `sworn run` of bench.py's
bundle (runc's default spec, /bin/true) and sworn-floor on the same rootfs
under `strace -f`, and fails if their kernel work differs in

  - the clone flags of the container's init,
  - the mount calls (source, type, flags, data; targets are /proc/self/fd
    magic links in sworn and plain paths in the floor, so they are left out),
    and the new mount API's open_tree, mount_setattr and move_mount (flags),
  - the cgroup directories made and removed, and the hierarchies joined.

When it fails, the floor no longer measures sworn's work (or sworn started
doing new kernel work): change floor.c, or explain the difference.

    tests/integration/floor_profile.py --sworn PATH [--floor PATH] [-v]

Needs root, strace (scripts/deps.sh), busybox-static and runc (for the spec).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "conformance"))
from harness import MAKE_ROOTFS, remove_cgroup, runc_spec  # noqa: E402

CALLS = "clone,clone3,mount,open_tree,mount_setattr,move_mount,mkdir,mkdirat,rmdir,openat"
LINE = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+|\?)")


def trace(argv, out):
    subprocess.run(["strace", "-f", "-qq", "-s", "256", "-e", "trace=" + CALLS, "-e", "signal=none",
                    "-o", str(out), *argv], check=True, timeout=60,
                   stdout=subprocess.DEVNULL)
    # strace -f splits calls that block into "unfinished"/"resumed" halves.
    pending, calls = {}, []
    for line in out.read_text().splitlines():
        pid, rest = line.split(None, 1)
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")].rstrip(" ,")
            continue
        m = re.match(r"<\.\.\. \w+ resumed>(.*)", rest)
        if m and pid in pending:
            rest = pending.pop(pid) + m.group(1)
        m = LINE.match(f"{pid} {rest}")
        if m:
            calls.append((m.group(2), m.group(3), m.group(4)))
    return calls


def profile(calls, cgroup):
    """The comparable parts of a trace; the cgroup path's parent becomes <cg>."""
    prof = {"clone": [], "mounts": [], "cgroup_mkdir": set(), "cgroup_rmdir": set(), "cgroup_join": set()}

    def cg(path):
        return path.replace(os.path.dirname(cgroup), "<cg>")

    for name, args, ret in calls:
        if name == "clone3" and "CLONE_NEWNS" in args:
            flags = re.search(r"flags=([A-Z_|]+)", args).group(1)
            prof["clone"] = sorted(flags.split("|"))
        elif name == "mount" and ret == "0":
            src, _target, fstype, flags, data = [a.strip() for a in split_args(args)]
            if src.startswith('"/proc/self/fd/') or (src.startswith('"/') and "/sys/fs/cgroup/" not in src):
                src = "<path>"  # a bind source: sworn names it by fd, the floor by path
            prof["mounts"].append(" ".join([cg(src), fstype, flags, data.replace("...", "")]))
        elif name in ("open_tree", "mount_setattr", "move_mount") and ret != "-1":
            # fds and paths differ between the two; the flags and attributes are the work
            prof["mounts"].append(" ".join([name] + [a.strip() for a in split_args(args)
                                                     if not re.fullmatch(r'\s*(\d+|""|"/[^"]*"|\d+ /\* [^*]* \*/)', a)]))
        elif name in ("mkdir", "rmdir") and ret == "0" and args.startswith('"/sys/fs/cgroup/'):
            prof["cgroup_" + name].add(cg(args.split('"')[1]))
        elif name == "openat" and re.search(r'/(cgroup\.procs|tasks)"', args) and "O_WRONLY" in args and ret != "-1":
            # sworn's init joins v1 through `tasks` fds the runtime opens
            prof["cgroup_join"].add(cg(os.path.dirname(args.split('"')[1])))
    return prof


def split_args(args):
    """Splits strace's argument list at top-level commas (not inside quotes)."""
    out, cur, quoted = [], "", False
    for i, c in enumerate(args):
        if c == '"' and (i == 0 or args[i - 1] != "\\"):
            quoted = not quoted
        if c == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += c
    return out + [cur]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sworn", required=True)
    p.add_argument("--floor", help="default: sworn-floor next to --sworn")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 0
    if not shutil.which("strace"):
        sys.exit("strace is not installed (scripts/deps.sh)")
    sworn = os.path.abspath(args.sworn)
    floor = args.floor or str(Path(sworn).parent / "sworn-floor")
    base = Path(tempfile.mkdtemp(prefix="sworn-floor-profile-"))
    prefix = f"/sworn-floor-profile-{os.getpid()}"
    try:
        rootfs = base / "rootfs"
        subprocess.run([str(MAKE_ROOTFS), str(rootfs)], check=True, timeout=60, stdout=subprocess.DEVNULL)
        config = runc_spec(base)
        config["process"]["terminal"] = False
        config["process"]["args"] = ["/bin/true"]
        config["root"]["path"] = str(rootfs)
        # Each under a parent of its own: both make it.
        config["linux"]["cgroupsPath"] = f"{prefix}-sworn/c"
        bundle = base / "bundle"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(config))
        got = profile(trace([sworn, "--root", str(base / "root"), "run", "--bundle", str(bundle), "profile"],
                            base / "sworn.trace"), f"{prefix}-sworn/c")
        want = profile(trace([floor, str(rootfs), f"{prefix}-floor/c"], base / "floor.trace"), f"{prefix}-floor/c")
        failed = False
        for key in want:
            g, w = got[key], want[key]
            if g == w:
                if args.verbose:
                    print(f"ok {key}: {len(w) if not isinstance(w, list) or key != 'clone' else '|'.join(w)}")
                continue
            failed = True
            print(f"FAIL {key}: sworn and sworn-floor differ")
            if isinstance(w, set):
                for x in sorted(g - w):
                    print(f"  only sworn: {x}")
                for x in sorted(w - g):
                    print(f"  only floor: {x}")
            else:
                print("  sworn: " + "\n         ".join(map(str, g)))
                print("  floor: " + "\n         ".join(map(str, w)))
        print("FAIL" if failed else "PASS: sworn's kernel work matches sworn-floor's")
        return 1 if failed else 0
    finally:
        for name in ("sworn", "floor"):
            remove_cgroup(f"{prefix}-{name}/c")
            remove_cgroup(f"{prefix}-{name}")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
