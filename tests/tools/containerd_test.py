#!/usr/bin/env python3
"""containerd_test.py -- drive sworn (and runc as a control) through containerd.

Starts a private containerd (1.6, Debian's package) with its own config, root,
state and sockets under a temporary directory, imports a locally built busybox
OCI image, and runs the same ctr scenarios with the io.containerd.runc.v2 shim
pointed (via --runc-binary) first at runc and then at sworn.

Prints "PASS runtime/scenario" or "FAIL runtime/scenario: detail" per check
and ends with "N passed, N failed".  Exit status 0 if everything passed,
1 otherwise, 77 (with a printed reason) if containerd/ctr is missing.

By default every runtime invocation goes through a small tracing wrapper that
records the exact argv and the lines the runtime appended to the shim's
--log file (<bundle>/log.json); they are printed under a failing scenario.
--no-trace hands the real binaries to the shim instead.

Must run as root.  Only needs Python 3 stdlib, containerd, ctr,
containerd-shim-runc-v2, busybox (for tests/rootfs/make-rootfs.sh).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IMAGE = "localhost/busybox:latest"
SHIM_RUNTIME = "io.containerd.runc.v2"
CMD_TIMEOUT = 60
MEM_LIMIT = 96 * 1024 * 1024
# /sys/fs/cgroup/memory/process_api belongs to the machine: never touch it.
CGROUP_ROOT = "/sys/fs/cgroup"


def log(msg):
    print(msg, flush=True)


class Ctx:
    """Everything the run owns; cleanup() undoes all of it."""

    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="sworn-ctrd-")
        os.chmod(self.tmp, 0o711)  # --uidmap: the container's root must reach the rootfs
        self.ns = "swornct%d" % os.getpid()
        self.sock = os.path.join(self.tmp, "c.sock")
        self.ttrpc = os.path.join(self.tmp, "c-ttrpc.sock")
        self.root = os.path.join(self.tmp, "root")
        self.state = os.path.join(self.tmp, "state")
        self.config = os.path.join(self.tmp, "config.toml")
        self.trace = os.path.join(self.tmp, "trace")
        self.proc = None
        self.daemon_log = None
        self.passed = 0
        self.failed = 0
        self.reference = {}  # scenario -> normalized runc output

    # -- subprocess helpers -------------------------------------------------

    def ctr(self, *argv, timeout=CMD_TIMEOUT, check=False, input=None):
        cmd = [self.args.ctr, "--address", self.sock, "--namespace", self.ns] + list(argv)
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL if input is None else None,
                               input=input, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            return Result(cmd, None, out, err + "\n[timed out after %ss]" % timeout)
        r = Result(cmd, p.returncode, p.stdout, p.stderr)
        if check and p.returncode != 0:
            raise RuntimeError("%s failed: %s" % (r.cmdline(), r.describe()))
        return r

    def ctr_pty(self, *argv, timeout=CMD_TIMEOUT):
        """Run ctr with a pseudo-terminal as its stdin/stdout/stderr (needed
        for -t); returns a Result whose out holds what the terminal got."""
        cmd = [self.args.ctr, "--address", self.sock, "--namespace", self.ns] + list(argv)
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                                 start_new_session=True, close_fds=True)
        finally:
            os.close(slave)
        buf = b""
        deadline = time.time() + timeout
        rc = None
        try:
            while True:
                left = deadline - time.time()
                if left <= 0:
                    break
                r, _, _ = select.select([master], [], [], min(left, 0.2))
                if r:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:  # EIO: every slave end closed
                        chunk = b""
                    if not chunk:
                        break
                    buf += chunk
                elif p.poll() is not None:
                    break
            try:
                rc = p.wait(timeout=max(1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
                buf += b"\n[timed out after %ds]" % timeout
        finally:
            os.close(master)
        return Result(cmd, rc, buf.decode(errors="replace"), "")

    def bundle_dir(self, cid):
        return os.path.join(self.state, "io.containerd.runtime.v2.task", self.ns, cid)

    # -- reporting ------------------------------------------------------------

    def trace_size(self):
        try:
            return os.path.getsize(self.trace)
        except OSError:
            return 0

    def trace_since(self, off):
        try:
            with open(self.trace, errors="replace") as f:
                f.seek(off)
                return f.read()
        except OSError:
            return ""

    def report(self, name, ok, detail="", trace_off=None, cid=None):
        if ok:
            self.passed += 1
            log("PASS %s" % name)
            return
        self.failed += 1
        log("FAIL %s: %s" % (name, detail))
        if cid:
            lj = os.path.join(self.bundle_dir(cid), "log.json")
            if os.path.exists(lj):
                try:
                    with open(lj, errors="replace") as f:
                        txt = f.read().strip()
                    if txt:
                        log("    %s:" % lj)
                        for line in txt.splitlines()[-20:]:
                            log("      " + line)
                except OSError:
                    pass
        if trace_off is not None:
            t = self.trace_since(trace_off).rstrip()
            if t:
                log("    runtime invocations (trace):")
                for line in t.splitlines()[-60:]:
                    log("      " + line)


class Result:
    def __init__(self, cmd, rc, out, err):
        self.cmd, self.rc, self.out, self.err = cmd, rc, out or "", err or ""

    def cmdline(self):
        return " ".join(shlex.quote(c) for c in self.cmd)

    def describe(self):
        return "`%s` rc=%s stdout=%r stderr=%r" % (
            self.cmdline(), self.rc, self.out.strip()[-600:], self.err.strip()[-1500:])


# -- setup -------------------------------------------------------------------

def set_toml_keys(text, edits):
    """edits: {section or "": {key: toml-value}}; replace existing keys in
    the named section, else add them right after the section header."""
    lines = text.splitlines()
    out = []
    section = ""
    done = set()
    pending = {s: dict(kv) for s, kv in edits.items()}

    def flush_missing(sec):
        for k, v in pending.get(sec, {}).items():
            if (sec, k) not in done:
                out.append("%s%s = %s" % ("  " if sec else "", k, v))
                done.add((sec, k))

    # Top-level keys have to precede the first table.
    top_flushed = False
    for line in lines:
        m = re.match(r"^\s*\[([^\[\]]+)\]\s*$", line)
        if m:
            if not top_flushed:
                flush_missing("")
                top_flushed = True
            section = m.group(1).strip()
            out.append(line)
            continue
        km = re.match(r"^(\s*)([A-Za-z0-9_\-]+)\s*=", line)
        if km and section in pending and km.group(2) in pending[section]:
            k = km.group(2)
            out.append("%s%s = %s" % (km.group(1), k, pending[section][k]))
            done.add((section, k))
            continue
        out.append(line)
    if not top_flushed:
        flush_missing("")
    # Sections (or keys) that were not in the default: append tables.
    for sec, kv in pending.items():
        missing = [(k, v) for k, v in kv.items() if (sec, k) not in done]
        if not missing:
            continue
        if sec == "":
            continue
        header_re = re.compile(r"^\s*\[%s\]\s*$" % re.escape(sec))
        idx = next((i for i, l in enumerate(out) if header_re.match(l)), None)
        ins = ["  %s = %s" % (k, v) for k, v in missing]
        if idx is None:
            out += ["", "[%s]" % sec] + ins
        else:
            out[idx + 1:idx + 1] = ins
        for k, _ in missing:
            done.add((sec, k))
    return "\n".join(out) + "\n"


def q(s):
    return json.dumps(s)


def write_config(ctx):
    default = subprocess.run([ctx.args.containerd, "config", "default"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    disabled = [
        "io.containerd.grpc.v1.cri",
        "io.containerd.internal.v1.opt",
        "io.containerd.internal.v1.tracing",
        "io.containerd.tracing.processor.v1.otlp",
        "io.containerd.snapshotter.v1.aufs",
        "io.containerd.snapshotter.v1.btrfs",
        "io.containerd.snapshotter.v1.zfs",
        "io.containerd.snapshotter.v1.devmapper",
        "io.containerd.monitor.v1.cgroups",
    ]
    edits = {
        "": {"root": q(ctx.root), "state": q(ctx.state),
             "disabled_plugins": "[" + ", ".join(q(d) for d in disabled) + "]"},
        "grpc": {"address": q(ctx.sock)},
        "ttrpc": {"address": q(ctx.ttrpc)},
        "debug": {"level": q("info")},
        # Only the v1 shim reads this; the v2 shim gets BinaryName from ctr's
        # --runc-binary (RuncOptions), which is what the scenarios use.
        'plugins."io.containerd.runtime.v1.linux"': {"runtime": q(ctx.args.sworn)},
    }
    text = set_toml_keys(default, edits)
    with open(ctx.config, "w") as f:
        f.write(text)


def start_containerd(ctx):
    ctx.daemon_log = open(os.path.join(ctx.tmp, "containerd.log"), "w")
    ctx.proc = subprocess.Popen([ctx.args.containerd, "--config", ctx.config],
                                stdin=subprocess.DEVNULL, stdout=ctx.daemon_log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        if ctx.proc.poll() is not None:
            raise RuntimeError("containerd exited with %s; log:\n%s" % (
                ctx.proc.returncode, daemon_log_tail(ctx)))
        if os.path.exists(ctx.sock):
            r = ctx.ctr("version", timeout=10)
            if r.rc == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("containerd did not come up in 30s; log:\n" + daemon_log_tail(ctx))


def daemon_log_tail(ctx, n=40):
    try:
        with open(os.path.join(ctx.tmp, "containerd.log"), errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def make_image_tar(ctx):
    rootfs = os.path.join(ctx.tmp, "rootfs")
    subprocess.run(["sh", os.path.join(REPO, "tests", "rootfs", "make-rootfs.sh"), rootfs],
                   check=True, timeout=120, capture_output=True)

    def owner_root(ti):
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted(os.listdir(rootfs)):
            t.add(os.path.join(rootfs, name), arcname=name, filter=owner_root)
    layer_raw = raw.getvalue()
    layer_gz = gzip.compress(layer_raw, mtime=0)

    def digest(b):
        return "sha256:" + hashlib.sha256(b).hexdigest()

    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(platform.machine(), platform.machine())
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [digest(layer_raw)]},
        "history": [{"created_by": "tests/rootfs/make-rootfs.sh"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest(layer_gz), "size": len(layer_gz)}],
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": digest(manifest), "size": len(manifest),
                       "platform": {"architecture": arch, "os": "linux"},
                       "annotations": {"io.containerd.image.name": IMAGE,
                                       "org.opencontainers.image.ref.name": "latest"}}],
    }, sort_keys=True).encode()

    path = os.path.join(ctx.tmp, "busybox-oci.tar")
    with tarfile.open(path, "w") as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", index)
        for blob in (config, manifest, layer_gz):
            add("blobs/sha256/" + hashlib.sha256(blob).hexdigest(), blob)
    shutil.rmtree(rootfs, ignore_errors=True)
    return path


def write_wrapper(ctx, name, binary):
    """A shell wrapper recording argv and the runtime's new --log lines."""
    path = os.path.join(ctx.tmp, "bin", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    script = r'''#!/bin/sh
# Written by containerd_test.py: trace the runtime invocation, then run it.
trace=%(trace)s
bin=%(bin)s
logf= prev=
for a; do [ "$prev" = --log ] && logf=$a; prev=$a; done
{ printf '%%s' "+ $bin"; for a; do printf " '%%s'" "$a"; done; echo; } >>"$trace"
before=0
[ -n "$logf" ] && [ -f "$logf" ] && before=$(stat -c %%s "$logf")
"$bin" "$@"
rc=$?
echo "  -> exit $rc" >>"$trace"
if [ -n "$logf" ] && [ -f "$logf" ]; then
    tail -c +$((before + 1)) "$logf" | sed 's/^/  log: /' >>"$trace"
fi
exit $rc
''' % {"trace": shlex.quote(ctx.trace), "bin": shlex.quote(binary)}
    with open(path, "w") as f:
        f.write(script)
    os.chmod(path, 0o755)
    return path


# -- scenarios -----------------------------------------------------------------

def task_status(ctx, cid):
    r = ctx.ctr("task", "ls")
    for line in r.out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[0] == cid:
            return parts[2], parts[1]
    return None, None


def wait_status(ctx, cid, want, timeout=15):
    deadline = time.time() + timeout
    st = None
    while time.time() < deadline:
        st, _ = task_status(ctx, cid)
        if st == want:
            return st
        time.sleep(0.2)
    return st


def force_remove(ctx, cid):
    ctx.ctr("task", "kill", "-s", "SIGKILL", cid, timeout=20)
    wait_status(ctx, cid, "STOPPED", timeout=5)
    ctx.ctr("task", "delete", "-f", cid, timeout=30)
    ctx.ctr("container", "rm", cid, timeout=30)


def run_scenarios(ctx, rt, binary):
    runtime_opts = ["--runtime", SHIM_RUNTIME, "--runc-binary", binary]

    def check(scn, ok, detail, off, cid=None):
        ctx.report("%s/%s" % (rt, scn), ok, detail, off, cid)
        return ok

    # 1. run --rm true
    off = ctx.trace_size()
    cid = "%s-true" % rt
    r = ctx.ctr("run", "--rm", *runtime_opts, IMAGE, cid, "true")
    check("run-rm-true", r.rc == 0, r.describe(), off, cid)
    if r.rc != 0:
        force_remove(ctx, cid)

    # 2. exit code kept
    off = ctx.trace_size()
    cid = "%s-exit3" % rt
    r = ctx.ctr("run", "--rm", *runtime_opts, IMAGE, cid, "sh", "-c", "exit 3")
    check("run-rm-exit3", r.rc == 3, r.describe(), off, cid)
    if r.rc not in (0, 3):
        force_remove(ctx, cid)

    # 3. output reaches ctr
    off = ctx.trace_size()
    cid = "%s-echo" % rt
    r = ctx.ctr("run", "--rm", *runtime_opts, IMAGE, cid, "sh", "-c", "echo out-$((6*7)); echo err >&2")
    check("run-rm-output", r.rc == 0 and r.out.strip() == "out-42" and "err" in r.err,
          r.describe(), off, cid)
    if r.rc != 0:
        force_remove(ctx, cid)

    # 4. detached sleep: ls, exec, ps, metrics, pause/resume, update, SIGKILL, delete, rm
    cid = "%s-sleep" % rt
    off = ctx.trace_size()
    r = ctx.ctr("run", "-d", "--memory-limit", str(MEM_LIMIT), "--cpus", "0.5",
                "--cpu-shares", "512", *runtime_opts, IMAGE, cid,
                "sleep", "1000")
    if not check("run-detached", r.rc == 0, r.describe(), off, cid):
        force_remove(ctx, cid)
    else:
        off = ctx.trace_size()
        st, pid = task_status(ctx, cid)
        check("task-ls-running", st == "RUNNING", "status %r pid %r" % (st, pid), off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "exec", "--exec-id", "e1", cid, "sh", "-c", "echo hi")
        check("exec-echo", r.rc == 0 and r.out.strip() == "hi", r.describe(), off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "exec", "--exec-id", "e2", cid, "sh", "-c", "echo bye >&2; exit 5")
        check("exec-exit5", r.rc == 5 and "bye" in r.err, r.describe(), off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "ps", cid)
        pids = [l.split()[0] for l in r.out.splitlines()[1:] if l.split()]
        check("task-ps", r.rc == 0 and pid is not None and pid in pids,
              "init pid %r not in %r; %s" % (pid, pids, r.describe()), off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "metrics", cid)
        ok = r.rc == 0 and ("memory" in r.out or "pids" in r.out)
        check("task-metrics", ok, r.describe(), off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "metrics", "--format", "json", cid)
        ok = r.rc == 0
        detail = r.describe()
        if ok:
            try:
                m = json.loads(r.out)
                cur = (m.get("pids") or {}).get("current") or (m.get("Pids") or {}).get("current")
                ok = bool(cur) and int(cur) >= 1
                detail = "pids.current=%r in %s" % (cur, r.out.strip()[:400])
            except ValueError as e:
                ok, detail = False, "bad json (%s): %s" % (e, r.describe())
        check("task-metrics-json-pids", ok, detail, off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "pause", cid)
        st = wait_status(ctx, cid, "PAUSED", timeout=10)
        check("task-pause", r.rc == 0 and st == "PAUSED", "status %r; %s" % (st, r.describe()), off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "resume", cid)
        st = wait_status(ctx, cid, "RUNNING", timeout=10)
        check("task-resume", r.rc == 0 and st == "RUNNING", "status %r; %s" % (st, r.describe()), off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "exec", "--exec-id", "e3", cid, "true")
        check("exec-after-resume", r.rc == 0, r.describe(), off, cid)

        # the limit ctr put in the spec (--memory-limit) reached the cgroup
        off = ctx.trace_size()
        got = read_memory_limit(ctx, cid)
        check("cgroup-memory-limit", got == MEM_LIMIT,
              "memory.limit_in_bytes=%r want %d" % (got, MEM_LIMIT), off, cid)
        got = [read_cgroup_int(ctx, "cpu", cid, f)
               for f in ("cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares")]
        check("cgroup-cpu-limits", got == [50000, 100000, 512],
              "cfs_quota/period/shares %r want [50000, 100000, 512]" % got, off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "kill", "-s", "SIGKILL", cid)
        st = wait_status(ctx, cid, "STOPPED", timeout=15)
        check("kill-sigkill", r.rc == 0 and st == "STOPPED", "status %r; %s" % (st, r.describe()), off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("task", "delete", cid)
        st, _ = task_status(ctx, cid)
        check("task-delete", r.rc == 0 and st is None, "status %r; %s" % (st, r.describe()), off, cid)

        off = ctx.trace_size()
        r = ctx.ctr("container", "rm", cid)
        lst = ctx.ctr("container", "ls", "-q").out.split()
        check("container-rm", r.rc == 0 and cid not in lst, "still listed %r; %s" % (lst, r.describe()), off)
        if r.rc != 0 or cid in lst:
            force_remove(ctx, cid)

    # 5. SIGTERM to a shell that traps it
    cid = "%s-trap" % rt
    off = ctx.trace_size()
    r = ctx.ctr("run", "-d", *runtime_opts, IMAGE, cid,
                "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.2; done")
    if not check("run-detached-trap", r.rc == 0, r.describe(), off, cid):
        force_remove(ctx, cid)
    else:
        wait_status(ctx, cid, "RUNNING", timeout=5)
        time.sleep(0.5)  # let the shell install its trap
        off = ctx.trace_size()
        r = ctx.ctr("task", "kill", cid)
        st = wait_status(ctx, cid, "STOPPED", timeout=15)
        check("kill-sigterm-trap", r.rc == 0 and st == "STOPPED", "status %r; %s" % (st, r.describe()), off, cid)
        off = ctx.trace_size()
        r = ctx.ctr("task", "delete", cid)
        # ctr task delete warns "task ID exit with non-zero exit code 7"
        check("task-delete-trap-exit7", "exit code 7" in r.err and task_status(ctx, cid)[0] is None,
              r.describe(), off, cid)
        r = ctx.ctr("container", "rm", cid)
        if r.rc != 0:
            force_remove(ctx, cid)

    # 6. several processes (init's child in the background), kill --all
    cid = "%s-all" % rt
    off = ctx.trace_size()
    r = ctx.ctr("run", "-d", *runtime_opts, IMAGE, cid,
                "sh", "-c", "sleep 1000 & sleep 1000 & wait")
    if not check("run-detached-children", r.rc == 0, r.describe(), off, cid):
        force_remove(ctx, cid)
    else:
        wait_status(ctx, cid, "RUNNING", timeout=5)
        off = ctx.trace_size()
        deadline = time.time() + 5
        while True:
            r = ctx.ctr("task", "ps", cid)
            pids = [l.split()[0] for l in r.out.splitlines()[1:] if l.split()]
            if len(pids) >= 3 or time.time() > deadline:
                break
            time.sleep(0.2)
        check("task-ps-3-procs", r.rc == 0 and len(pids) == 3, "pids %r; %s" % (pids, r.describe()), off, cid)
        off = ctx.trace_size()
        r = ctx.ctr("task", "kill", "--all", "-s", "SIGKILL", cid)
        st = wait_status(ctx, cid, "STOPPED", timeout=15)
        check("kill-all-sigkill", r.rc == 0 and st == "STOPPED", "status %r; %s" % (st, r.describe()), off, cid)
        force_remove(ctx, cid)

    # 6b. paused containers: exec refused, SIGKILL then resume, delete -f
    cid = "%s-paused" % rt
    off = ctx.trace_size()
    r = ctx.ctr("run", "-d", *runtime_opts, IMAGE, cid, "sleep", "1000")
    if check("run-detached-for-pause", r.rc == 0, r.describe(), off, cid):
        # parallel execs
        off = ctx.trace_size()
        procs = []
        for i in range(5):
            cmd = [ctx.args.ctr, "--address", ctx.sock, "--namespace", ctx.ns, "task", "exec",
                   "--exec-id", "p%d" % i, cid, "sh", "-c", "echo par-%d; exit %d" % (i, i)]
            procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        res = []
        for i, p in enumerate(procs):
            try:
                out, err = p.communicate(timeout=CMD_TIMEOUT)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
            res.append((p.returncode, out.strip(), err.strip()))
        ok = all(rc == i and out == "par-%d" % i for i, (rc, out, _) in enumerate(res))
        check("exec-parallel-5", ok, repr(res), off, cid)

        off = ctx.trace_size()
        ctx.ctr("task", "pause", cid)
        st = wait_status(ctx, cid, "PAUSED", timeout=10)
        r = ctx.ctr("task", "metrics", cid)
        check("metrics-paused", st == "PAUSED" and r.rc == 0, "status %r; %s" % (st, r.describe()), off, cid)
        off = ctx.trace_size()
        r = ctx.ctr("task", "exec", "--exec-id", "x1", cid, "true", timeout=20)
        key = "exec-paused-refused"
        ok = r.rc not in (0, None)
        if rt == "runc":
            ctx.reference[key] = ok
        check(key, ok or ctx.reference.get(key) is False, r.describe(), off, cid)
        off = ctx.trace_size()
        # runc thaws a paused container after SIGKILL (kill and kill --all)
        r = ctx.ctr("task", "kill", "-s", "SIGKILL", cid)
        st = wait_status(ctx, cid, "STOPPED", timeout=10)
        check("kill-sigkill-paused", r.rc == 0 and st == "STOPPED",
              "status %r; %s" % (st, r.describe()), off, cid)
        if st != "STOPPED":
            ctx.ctr("task", "resume", cid)
        force_remove(ctx, cid)

    cid = "%s-pausedrm" % rt
    off = ctx.trace_size()
    r = ctx.ctr("run", "-d", *runtime_opts, IMAGE, cid, "sleep", "1000")
    if check("run-detached-for-pause-rm", r.rc == 0, r.describe(), off, cid):
        ctx.ctr("task", "pause", cid)
        st = wait_status(ctx, cid, "PAUSED", timeout=10)
        off = ctx.trace_size()
        r = ctx.ctr("task", "delete", "-f", cid, timeout=30)
        st2, _ = task_status(ctx, cid)
        check("delete-force-paused", st == "PAUSED" and r.rc == 0 and st2 is None,
              "before %r after %r; %s" % (st, st2, r.describe()), off, cid)
        frozen = os.path.isdir(os.path.join(CGROUP_ROOT, "freezer", ctx.ns, cid))
        check("delete-force-paused-cgroup-gone", not frozen,
              "%s still exists" % os.path.join(CGROUP_ROOT, "freezer", ctx.ns, cid), None)
    force_remove(ctx, cid)

    # 7. one-shot containers whose output must match runc's
    share = os.path.join(ctx.tmp, "share")
    os.makedirs(share, exist_ok=True)
    with open(os.path.join(share, "file"), "w") as f:
        f.write("shared-content\n")
    for scn, flags, cmd, want_rc, inp in compare_cases(share):
        off = ctx.trace_size()
        cid = "%s-%s" % (rt, scn)
        r = ctx.ctr("run", "--rm", *flags, *runtime_opts, IMAGE, cid, *cmd, input=inp)
        compare(ctx, rt, scn, r, want_rc, cid, off, check)
        if r.rc is None or (want_rc == 0 and r.rc != 0):
            force_remove(ctx, cid)

    # 8. terminals: ctr run -t and ctr task exec -t (console socket path)
    off = ctx.trace_size()
    cid = "%s-tty" % rt
    r = ctx.ctr_pty("run", "--rm", "-t", *runtime_opts, IMAGE, cid,
                    "sh", "-c", "tty; stty size; exit 4")
    ok = r.rc == 4 and "/dev/pts/0" in r.out
    check("run-tty", ok, r.describe(), off, cid)
    if r.rc is None:
        force_remove(ctx, cid)

    cid = "%s-ttyexec" % rt
    off = ctx.trace_size()
    r = ctx.ctr("run", "-d", *runtime_opts, IMAGE, cid, "sleep", "1000")
    if check("run-detached-for-tty-exec", r.rc == 0, r.describe(), off, cid):
        off = ctx.trace_size()
        r = ctx.ctr_pty("task", "exec", "-t", "--exec-id", "t1", cid, "sh", "-c", "tty; exit 6")
        check("exec-tty", r.rc == 6 and "/dev/pts/" in r.out, r.describe(), off, cid)
        off = ctx.trace_size()
        r = ctx.ctr("task", "exec", "--user", "1000", "--cwd", "/tmp", "--exec-id", "u1", cid,
                    "sh", "-c", "id; pwd")
        check("exec-user-cwd", r.rc == 0 and "uid=1000" in r.out and "/tmp" in r.out,
              r.describe(), off, cid)
        off = ctx.trace_size()
        r = ctx.ctr("task", "delete", cid)
        check("task-delete-running-refused", r.rc != 0 and task_status(ctx, cid)[0] == "RUNNING",
              r.describe(), off, cid)
        off = ctx.trace_size()
        r = ctx.ctr("task", "delete", "-f", cid)
        check("task-delete-force", r.rc == 0 and task_status(ctx, cid)[0] is None,
              r.describe(), off, cid)
    force_remove(ctx, cid)

    # leftover state in the runtime's root (/run/containerd/runc/<ns>)
    runc_root = os.path.join("/run/containerd/runc", ctx.ns)
    left = sorted(os.listdir(runc_root)) if os.path.isdir(runc_root) else []
    left = [c for c in left if c.startswith(rt + "-")]
    check("no-leftover-state", not left, "left in %s: %r" % (runc_root, left), None)


def compare_cases(share):
    """(scenario, ctr run flags, command, expected exit code, stdin)"""
    sh = lambda c: ["sh", "-c", c]
    return [
        # ctr never closes the task's stdin on EOF, so read one line only
        ("stdin", [], sh("read l; echo got-$l"), 0, "piped-in\n"),
        ("env-cwd", ["--env", "FOO=bar", "--cwd", "/tmp"], sh("echo $FOO $(pwd)"), 0, None),
        ("id", [], ["id"], 0, None),
        ("caps", [], sh("grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status"), 0, None),
        ("caps-add-drop", ["--cap-add", "CAP_SYS_ADMIN", "--cap-drop", "CAP_CHOWN"],
         sh("grep -E '^Cap' /proc/self/status"), 0, None),
        ("privileged", ["--privileged"],
         sh("grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; ls /dev | wc -l"), 0, None),
        ("seccomp", ["--seccomp"],
         sh("grep -E '^(Seccomp|NoNewPrivs)' /proc/self/status; unshare -m true; echo unshare=$?"),
         0, None),
        ("read-only", ["--read-only"], sh("touch /x 2>/dev/null; echo touch=$?; touch /tmp/y; echo tmp=$?"),
         0, None),
        ("net-host", ["--net-host"], sh("ls /sys/class/net | sort"), 0, None),
        ("netns", [], sh("ls /sys/class/net | sort"), 0, None),
        ("bind-ro", ["--mount", "type=bind,src=%s,dst=/mnt,options=rbind:ro" % share],
         sh("cat /mnt/file; touch /mnt/z 2>/dev/null; echo touch=$?"), 0, None),
        ("mounts", [], sh("awk '{print $2, $3, $4}' /proc/self/mounts | sed 's/,lowerdir=.*//' | sort"),
         0, None),
        ("dev", [], sh("ls -ln /dev | awk '{print $1, $3, $4, $5, $6, $NF}' | sort"), 0, None),
        ("cgroup-self", [], ["cat", "/proc/self/cgroup"], 0, None),
        ("rlimits", [], sh("ulimit -a"), 0, None),
        ("hostname-ns", [], sh("hostname; readlink /proc/1/ns/uts >/dev/null && echo ok"), 0, None),
        ("pid1", [], sh("echo $$; ps -o comm >/tmp/ps; sort /tmp/ps"), 0, None),
        ("userns", ["--uidmap", "0:200000:65536", "--gidmap", "0:200000:65536"],
         sh("cat /proc/self/uid_map /proc/self/gid_map; id; ls -ln /bin/busybox | awk '{print $3, $4}'"),
         0, None),
    ]


def normalize(ctx, rt, text):
    text = text.replace(ctx.ns, "NS").replace(rt + "-", "RT-")
    # runc masks /proc/acpi etc. with a plain read-only tmpfs, sworn with a
    # zero-size one: same effect, different option string.
    text = text.replace(",size=0k,nr_inodes=1", "")
    # --net-host lists the host's links, which other tools (podman, CNI) may
    # add or remove between the runc and the sworn run.
    text = "\n".join(l for l in text.splitlines()
                     if not re.match(r"^(veth|podman|cni|docker|br-)\S*$", l.strip()))
    return "\n".join(l.rstrip() for l in text.strip().splitlines())


def compare(ctx, rt, scn, r, want_rc, cid, off, check):
    if r.rc != want_rc:
        check(scn, False, "exit %r, want %r; %s" % (r.rc, want_rc, r.describe()), off, cid)
        return
    got = normalize(ctx, rt, r.out)
    if rt == "runc":
        ctx.reference[scn] = got
        check(scn, True, "", off, cid)
        return
    ref = ctx.reference.get(scn)
    if ref is None or ref == got:
        check(scn, True, "", off, cid)
        return
    import difflib
    diff = "\n".join(difflib.unified_diff(ref.splitlines(), got.splitlines(),
                                          "runc", rt, lineterm="", n=0))
    check(scn, False, "output differs from runc's:\n" +
          "\n".join("      " + l for l in diff.splitlines()), off, cid)


def read_cgroup_int(ctx, ctrl, cid, name):
    try:
        with open(os.path.join(CGROUP_ROOT, ctrl, ctx.ns, cid, name)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def read_memory_limit(ctx, cid):
    p = os.path.join(CGROUP_ROOT, "memory", ctx.ns, cid, "memory.limit_in_bytes")
    try:
        with open(p) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        pass
    p = os.path.join(CGROUP_ROOT, ctx.ns, cid, "memory.max")  # pure cgroup v2
    try:
        with open(p) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


# -- cleanup -------------------------------------------------------------------

def own_processes(ctx):
    """PIDs of processes whose command line mentions our private temp dir
    (the shims are started with -address <our socket>)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if ctx.tmp in cmd:
            pids.append(int(d))
    return pids


def mounts_under(path):
    res = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mp = line.split()[4].replace("\\040", " ")
                if mp == path or mp.startswith(path + "/"):
                    res.append(mp)
    except OSError:
        pass
    return res


def cleanup(ctx):
    if ctx.proc is not None and ctx.proc.poll() is None:
        try:
            lst = ctx.ctr("container", "ls", "-q", timeout=20).out.split()
            for cid in lst:
                force_remove(ctx, cid)
            ctx.ctr("image", "rm", IMAGE, timeout=30)
            ctx.ctr("namespace", "rm", ctx.ns, timeout=20)
        except Exception as e:  # keep going: the rest must still run
            log("# cleanup via ctr: %s" % e)
        ctx.proc.send_signal(signal.SIGTERM)
        try:
            ctx.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            ctx.proc.kill()
            ctx.proc.wait(timeout=10)
    if ctx.daemon_log:
        ctx.daemon_log.close()
    # Shims (and anything else started with our paths) outlive containerd.
    # A shim killed here leaves its socket, /run/containerd/s/<sha256 of
    # "<grpc address>/<namespace>/<id>">, behind: remove those too.
    shim_sockets = []
    tasks_dir = os.path.join(ctx.state, "io.containerd.runtime.v2.task", ctx.ns)
    if os.path.isdir(tasks_dir):
        for cid in os.listdir(tasks_dir):
            h = hashlib.sha256(os.path.join(ctx.sock, ctx.ns, cid).encode()).hexdigest()
            shim_sockets.append(os.path.join("/run/containerd/s", h))
    for pid in own_processes(ctx):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.3)
    for sock in shim_sockets:
        try:
            os.unlink(sock)
        except OSError:
            pass
    for mp in sorted(mounts_under(ctx.tmp), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], timeout=20, capture_output=True)
    # Processes still in our cgroups (e.g. a frozen task a runtime failed to
    # kill): SIGKILL them by pid and thaw their freezer cgroup.
    for dirpath, _, files in os.walk(os.path.join(CGROUP_ROOT, "freezer", ctx.ns)):
        try:
            with open(os.path.join(dirpath, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            continue
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if "freezer.state" in files:
            try:
                with open(os.path.join(dirpath, "freezer.state"), "w") as f:
                    f.write("THAWED")
            except OSError:
                pass
    time.sleep(0.3)
    # Our cgroups: /sys/fs/cgroup/<controller>/<ns>/... (rmdir only; never
    # anything but our namespace's directory).
    for ctrl_dir in [os.path.join(CGROUP_ROOT, c) for c in os.listdir(CGROUP_ROOT)] + [CGROUP_ROOT]:
        d = os.path.join(ctrl_dir, ctx.ns)
        if not ctx.ns or not os.path.isdir(d):
            continue
        for dirpath, _, _ in sorted(os.walk(d), key=lambda t: len(t[0]), reverse=True):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
    runc_root = os.path.join("/run/containerd/runc", ctx.ns)
    shutil.rmtree(runc_root, ignore_errors=True)
    if ctx.args.keep:
        log("# kept %s" % ctx.tmp)
    elif mounts_under(ctx.tmp):
        log("# not removing %s: still mounted: %s" % (ctx.tmp, mounts_under(ctx.tmp)))
    else:
        shutil.rmtree(ctx.tmp, ignore_errors=True)


# -- main ----------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sworn", default=os.path.join(REPO, "build", "sworn"))
    ap.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    ap.add_argument("--runtimes", default="runc,sworn",
                    help="comma-separated subset of runc,sworn (default both)")
    ap.add_argument("--containerd", default=shutil.which("containerd") or "containerd")
    ap.add_argument("--ctr", default=shutil.which("ctr") or "ctr")
    ap.add_argument("--no-trace", action="store_true",
                    help="give the shim the real binaries, not the tracing wrapper")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, trace)")
    args = ap.parse_args()

    for tool in ("containerd", "ctr"):
        if not shutil.which(getattr(args, tool)):
            log("SKIP: %s not found (apt-get install containerd)" % tool)
            return 77
    if not shutil.which("containerd-shim-runc-v2"):
        log("SKIP: containerd-shim-runc-v2 not found (apt-get install containerd)")
        return 77
    if os.geteuid() != 0:
        log("SKIP: must run as root")
        return 77

    binaries = {"runc": args.runc, "sworn": os.path.abspath(args.sworn)}
    wanted = [r for r in args.runtimes.split(",") if r]

    ctx = Ctx(args)
    log("# temp dir %s, namespace %s" % (ctx.tmp, ctx.ns))
    try:
        write_config(ctx)
        start_containerd(ctx)
        tar = make_image_tar(ctx)
        r = ctx.ctr("image", "import", tar, timeout=120)
        ok = r.rc == 0 and IMAGE in ctx.ctr("image", "ls", "-q").out.split()
        ctx.report("setup/image-import", ok, r.describe())
        if not ok:
            raise RuntimeError("image import failed")
        for rt in wanted:
            binary = binaries.get(rt)
            if not binary or not os.access(binary, os.X_OK):
                ctx.report("%s/binary" % rt, False, "%r is not executable" % binary)
                continue
            if not args.no_trace:
                binary = write_wrapper(ctx, rt + "-traced", binary)
            run_scenarios(ctx, rt, binary)
    except Exception as e:
        ctx.report("setup/harness", False, "%s: %s" % (type(e).__name__, e))
        log(daemon_log_tail(ctx, 20))
    finally:
        cleanup(ctx)
    log("%d passed, %d failed" % (ctx.passed, ctx.failed))
    return 0 if ctx.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
