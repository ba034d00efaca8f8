"""test_cli.py cases: CVE-2019-5736, end to end, the way the attack works.

An image ships /bin/evil = "#!/proc/self/exe".  When the runtime itself
execs it, the kernel runs whatever /proc/self/exe names at that moment as
the interpreter, inside the container.  If that is the runtime's binary, a
process watching /proc (WATCHER_SRC) grabs /proc/PID/exe with O_PATH and,
once the process is gone, reopens it for writing: it can then rewrite the
host's runtime.

The runtime under test is a copy of sworn in the workspace, so a successful
attack could only ever damage the copy.  The watcher reports whether any
/proc/PID/exe it could open was that file (same st_dev and st_ino, as seen
through the magic link) and whether it could open it for writing.  Every
mode is tried: plain, pledged (`stdio rpath wpath`, as in the report),
pledged and unveiled, an OCI profile that denies execveat, and the `exec`,
`run` and `create`+`start` paths; then a container in the host's pid
namespace looking at the runtime processes themselves.
"""
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import itlib
from harness import Runtime

WATCHER_SRC = r"""
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* watcher DEV INO SECONDS OUT STOP: scan /proc until STOP exists. */
int main(int argc, char **argv) {
  if (argc != 6) return 2;
  dev_t dev = strtoull(argv[1], 0, 10);
  ino_t ino = strtoull(argv[2], 0, 10);
  time_t end = time(0) + atoi(argv[3]);
  int held = -1, reached = 0, writable = 0;
  long scans = 0, seen = 0;
  char path[64];
  while (time(0) < end && access(argv[5], F_OK) != 0) {
    DIR *d = opendir("/proc");
    if (!d) return 3;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!isdigit((unsigned char)e->d_name[0]) || atoi(e->d_name) == getpid()) continue;
      snprintf(path, sizeof path, "/proc/%s/exe", e->d_name);
      int fd = open(path, O_PATH | O_CLOEXEC);
      if (fd < 0) continue;
      struct stat st;
      ++seen;
      if (fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino && held < 0) {
        held = fd;
        reached = 1;
        continue;
      }
      close(fd);
    }
    closedir(d);
    ++scans;
    if (held >= 0 && !writable) {
      /* ETXTBSY while the binary runs; the attack waits for it to exit. */
      snprintf(path, sizeof path, "/proc/self/fd/%d", held);
      int w = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
      if (w >= 0) writable = 1, close(w);
    }
  }
  int out = open(argv[4], O_WRONLY | O_TRUNC);
  if (out < 0) return 4;
  dprintf(out, "reached=%d writable=%d scans=%ld seen=%ld\n", reached, writable, scans, seen);
  return 0;
}
"""

PLEDGE = {"sworn.pledge.promises": "stdio rpath wpath"}
UNVEIL = {"sworn.unveil": json.dumps(["rwx:/"])}
NO_EXECVEAT = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["execveat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}


class Attack:
    """A copy of sworn, a watcher container and its results directory."""

    def __init__(self, t, tag, ann=None, seccomp=None, pidns=True, host_root=False):
        self.t, self.ann, self.seccomp, self.pidns = t, ann or {}, seccomp, pidns
        # host_root: the container's root is the host's "/" (the Nomad
        # driver's filesystem = "host"); the runtime's binary is then a path
        # inside it, which is what lets the kernel reach it.
        self.host_root = host_root
        base = t.ws.base / f"escape-{tag}"
        base.mkdir()
        self.copy = base / "sworn"
        shutil.copyfile(shutil.which(t.rt.prefix[0]) or t.rt.prefix[0], self.copy)
        os.chmod(self.copy, 0o755)
        self.digest = hashlib.sha256(self.copy.read_bytes()).hexdigest()
        self.rt = Runtime("sworn-copy", [str(self.copy)], base / "state", t.ctx.verbose)
        self.out = base / "out"
        self.out.mkdir()
        (self.out / "result").write_text("")
        self.watcher = itlib.static_helper(t, "watcher", WATCHER_SRC)
        self.files = base / "files"  # /bin/{watcher,evil} of a host-root container
        self.files.mkdir()
        self.install(self.files)
        self.ids = []
        t.on_cleanup(self.cleanup)

    def install(self, bindir):
        shutil.copyfile(self.watcher, bindir / "watcher")
        os.chmod(bindir / "watcher", 0o755)
        (bindir / "evil").write_text("#!/proc/self/exe\n")
        os.chmod(bindir / "evil", 0o755)

    def path(self, name):
        return str(self.files / name) if self.host_root else f"/bin/{name}"

    def config(self, args, pid_path=None):
        cfg = self.t.config(args)
        if self.host_root:
            cfg["root"] = {"path": "/", "readonly": True}
            cfg["process"]["cwd"] = "/"
            cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] in ("/proc", "/dev")]
        cfg["annotations"] = dict(self.ann)
        cfg["mounts"].append({"destination": "/out", "type": "bind", "source": str(self.out),
                              "options": ["rbind", "rw"]})
        ns = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
        if pid_path:
            ns.append({"type": "pid", "path": pid_path})
        elif self.pidns:
            ns.append({"type": "pid"})
        cfg["linux"]["namespaces"] = ns
        if self.seccomp:
            cfg["linux"]["seccomp"] = self.seccomp
        return cfg

    def bundle(self, cfg):
        cid, bundle = self.t.bundle(cfg)
        self.ids.append(cid)
        self.install(bundle / "rootfs" / "bin")
        return cid, bundle

    def start_watcher(self):
        st = os.stat(self.copy)
        cfg = self.config([self.path("watcher"), str(st.st_dev), str(st.st_ino), "30", "/out/result", "/out/stop"])
        cid, bundle = self.bundle(cfg)
        self.t.ok(self.rt("create", "--bundle", str(bundle), cid), f"create watcher {cid}")
        self.t.ok(self.rt("start", cid), f"start watcher {cid}")
        self.watcher_id = cid
        return cid

    def verdict(self, what):
        (self.out / "stop").write_text("")
        itlib.wait_until(lambda: (self.out / "result").read_text(), 10)
        line = (self.out / "result").read_text().strip()
        self.t.require(line.startswith("reached="), f"{what}: the watcher wrote no verdict ({line!r})")
        got = dict(kv.split("=") for kv in line.split())
        # Under unveil, Landlock's ptrace scoping already hides every other
        # process's exe from the watcher; elsewhere it must see some.
        if "sworn.unveil" not in self.ann:
            self.t.expect(int(got["seen"]) > 0, f"{what}: the watcher could open no /proc/PID/exe at all ({line})")
        self.t.expect(got["reached"] == "0", f"{what}: a container process reached the runtime's binary "
                                             f"through /proc/PID/exe ({line})")
        self.t.expect(got["writable"] == "0", f"{what}: a container process opened the runtime's binary "
                                              f"for writing ({line})")
        same = hashlib.sha256(self.copy.read_bytes()).hexdigest() == self.digest
        self.t.expect(same, f"{what}: the runtime's binary changed")

    def cleanup(self):
        for cid in self.ids:
            self.rt("delete", "--force", cid, timeout=15)
            itlib.remove_cgroup(self.t.cgroup_path(cid))


def attack_all_paths(t, tag, ann=None, seccomp=None, host_root=False):
    a = Attack(t, tag, ann, seccomp, host_root=host_root)
    evil = a.path("evil")
    cid = a.start_watcher()
    res, st = a.rt.state(cid)
    t.require(st is not None, f"state {cid}: {res.describe()}")
    pid_ns = f"/proc/{st['pid']}/ns/pid"
    time.sleep(0.2)  # the watcher's first scans
    for _ in range(6):  # `sworn exec ID /bin/evil`: what a Nomad script check does
        res = a.rt("exec", cid, evil)
        t.expect(res.rc != 0, f"exec /bin/evil: {res.describe()}, want a failure")
    for _ in range(3):  # `sworn run` and `create`+`start` of an evil entrypoint in the same pid ns
        rid, bundle = a.bundle(a.config([evil], pid_ns))
        a.rt("run", "--bundle", str(bundle), rid, timeout=20)
        cid2, bundle2 = a.bundle(a.config([evil], pid_ns))
        if a.rt("create", "--bundle", str(bundle2), cid2).rc == 0:
            a.rt("start", cid2)
            time.sleep(0.1)
    a.verdict(tag)


def case_escape_proc_self_exe_plain(t):
    attack_all_paths(t, "plain")


def case_escape_proc_self_exe_pledged(t):
    attack_all_paths(t, "pledged", PLEDGE)


def case_escape_proc_self_exe_pledged_unveiled(t):
    attack_all_paths(t, "pledged-unveiled", {**PLEDGE, **UNVEIL})


def case_escape_proc_self_exe_profile_denies_execveat(t):
    attack_all_paths(t, "no-execveat", None, NO_EXECVEAT)


def case_escape_proc_self_exe_pledged_profile_denies_execveat(t):
    attack_all_paths(t, "pledged-no-execveat", PLEDGE, NO_EXECVEAT)


def case_escape_proc_self_exe_host_root(t):
    attack_all_paths(t, "host-root", host_root=True)


def case_escape_proc_self_exe_host_root_pledged(t):
    attack_all_paths(t, "host-root-pledged", PLEDGE, host_root=True)


def case_escape_proc_self_exe_host_root_no_execveat(t):
    attack_all_paths(t, "host-root-no-execveat", None, NO_EXECVEAT, host_root=True)


def case_escape_host_pidns_sees_runtime(t):
    """A container in the host's pid namespace (Nomad's pid_mode = "host")
    watches the runtime's own processes: `sworn run` supervisors, `sworn
    exec`, and the init before its exec."""
    a = Attack(t, "hostpid", PLEDGE, pidns=False)
    cid = a.start_watcher()
    time.sleep(0.2)
    for _ in range(3):
        rid, bundle = a.bundle(a.config(["/bin/sworn-probe", "sleep", "0.3"]))
        a.rt("run", "--bundle", str(bundle), rid, timeout=20)
        a.rt("exec", cid, "/bin/sworn-probe", "sleep", "0.2")
    a.verdict("host pid namespace")


# ---------------------------------------------------------------- item 2: the repledge window

EVIL_LIB_SRC = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* Runs before the repledge preload's constructor, with rpath and prot_exec:
 * offers the preload an allow-all filter through every SWORN_* variable. */
__attribute__((constructor)) static void steer(void) {
  int fd = open(ALLOW_BPF, O_RDONLY);
  for (char **e = environ; e && *e; ++e)
    if (strncmp(*e, "SWORN_", 6) == 0) {
      char *eq = strchr(*e, '=');
      if (eq) snprintf(eq + 1, strlen(eq + 1) + 1, "%d,%d", fd, fd);
    }
}
"""

NARROW_MAIN_SRC = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* After start-up a program pledged `stdio` may neither read files (rpath)
 * nor map executable memory (prot_exec). */
int main(void) {
  int fd = open("/etc/hostname", O_RDONLY);
  printf("open %s\n", fd >= 0 ? "ok" : strerrorname_np(errno));
  void *p = mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  printf("mmap_exec %s\n", p != MAP_FAILED ? "ok" : strerrorname_np(errno));
  return 0;
}
"""


def build_narrowing_pair(t):
    d = t.ws.base / "narrow"
    if (d / "prog").exists():
        return d
    d.mkdir(exist_ok=True)
    (d / "evil.c").write_text(EVIL_LIB_SRC)
    # one classic-BPF instruction: RET SECCOMP_RET_ALLOW
    (d / "allow.bpf").write_bytes(bytes([0x06, 0, 0, 0]) + (0x7fff0000).to_bytes(4, "little"))
    (d / "main.c").write_text(NARROW_MAIN_SRC)
    for cmd in (["gcc", "-shared", "-fPIC", f'-DALLOW_BPF="{d / "allow.bpf"}"', "-o", str(d / "libevil.so"),
                 str(d / "evil.c")],
                ["gcc", "-o", str(d / "prog"), str(d / "main.c"), "-L", str(d), "-levil",
                 "-Wl,-rpath," + str(d), "-Wl,--no-as-needed"]):
        r = itlib.subprocess.run(cmd, capture_output=True, text=True)
        t.require(r.returncode == 0, f"{' '.join(cmd)}: {r.stderr}")
    return d


def check_narrowed(t, what, rc, out):
    t.expect(rc == 0, f"{what}: exit {rc}, output {out!r}")
    t.expect("open EPERM" in out, f"{what}: main could still read files after start-up: {out!r}")
    t.expect("mmap_exec EPERM" in out, f"{what}: main could still map executable memory: {out!r}")


def case_pledge_window_cannot_steer_repledge_host(t):
    d = build_narrowing_pair(t)
    sworn = shutil.which(t.rt.prefix[0]) or t.rt.prefix[0]
    r = itlib.subprocess.run([sworn, "pledge", "-p", "stdio", "-V", "--", str(d / "prog")],
                             capture_output=True, text=True, timeout=20, stdin=itlib.subprocess.DEVNULL)
    check_narrowed(t, "sworn pledge -p stdio", r.returncode, r.stdout + r.stderr)


def case_pledge_window_cannot_steer_repledge_container(t):
    d = build_narrowing_pair(t)
    cfg = t.config([str(d / "prog")])
    cfg["root"] = {"path": "/", "readonly": True}
    cfg["process"]["cwd"] = "/"
    cfg["annotations"] = {"sworn.pledge.promises": "stdio"}
    cid, bundle = t.bundle(cfg)
    res = t.rt("run", "--bundle", str(bundle), cid, timeout=20)
    check_narrowed(t, "container pledged stdio", res.rc, res.out + res.err)
