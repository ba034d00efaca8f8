"""test_cli.py cases: pledge denial reports (issue #12).

Every call the pledge filter refuses reaches the pledge reporter
(runtime/security/pledge_reporter.h), which prints
    pledge: denied <call> in <comm>[<pid>]: needs <promise>
on the stderr of `sworn pledge` / `sworn run` / `sworn exec`, records it as
JSON in <state>/<id>/pledge.log, and answers EPERM or kills.  These cases
check the lines, the outcome under both penalties, threads, children and
dynamic programs, and that the program cannot get at the reporting channel.
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import itlib
from cli_cases_pledge import ann_config, host_pledge, pbundle, pprobe_binary, prun

# A second static probe for what pprobe does not do: denied calls in a thread
# and in a child, fallocate, and attempts on the reporting channel.
RPROBE_SRC = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *path;
static void *thread_open(void *a) { (void)a; long r = open(path, O_WRONLY); return (void *)(r < 0 ? (long)errno : 0); }

static void say(const char *op, int e) { printf("%s %s\n", op, e ? strerrorname_np(e) : "ok"); fflush(stdout); }

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *op = argv[i];
        if (!strcmp(op, "thread_open")) {
            path = argv[++i]; pthread_t t; void *r;
            pthread_create(&t, NULL, thread_open, NULL); pthread_join(t, &r); say(op, (int)(long)r);
        } else if (!strcmp(op, "fork_open")) {
            path = argv[++i]; pid_t c = fork(); if (c < 0) { say(op, errno); continue; }
            if (c == 0) { int e = open(path, O_WRONLY) < 0 ? errno : 0; _exit(e); }
            int st; waitpid(c, &st, 0); say(op, WIFEXITED(st) ? WEXITSTATUS(st) : 255);
        } else if (!strcmp(op, "fallocate")) {
            int fd = open(argv[++i], O_RDONLY); int e = fd < 0 ? errno : (fallocate(fd, 0, 0, 4096) < 0 ? errno : 0);
            say(op, e);
        } else if (!strcmp(op, "fds")) {
            /* every fd's target: the seccomp listener must not be among them */
            char l[64], t[256]; int found = 0;
            for (int fd = 0; fd < 1024; fd++) {
                snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
                ssize_t n = readlink(l, t, sizeof t - 1);
                if (n > 0) { t[n] = 0; if (strstr(t, "seccomp")) found = 1; }
            }
            say(op, found ? EEXIST : 0);
        } else if (!strcmp(op, "notif_recv")) {
            /* any fd answering SECCOMP_IOCTL_NOTIF_ID_VALID is a listener */
            int found = 0; unsigned long long id = 0;
            for (int fd = 0; fd < 1024; fd++)
                if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 || errno == ENOENT) found = 1;
            say(op, found ? EEXIST : 0);
        } else if (!strcmp(op, "own_listener")) {
            struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)};
            struct sock_fprog p = {1, f};
            long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p);
            say(op, r < 0 ? errno : 0);
        } else if (!strcmp(op, "sleep")) {
            sleep(atoi(argv[++i])); say(op, 0);
        } else { fprintf(stderr, "rprobe: unknown op %s\n", op); return 2; }
    }
    return 0;
}
"""


def rprobe_binary(t):
    return itlib.static_helper(t, "rprobe", RPROBE_SRC, "-pthread")


def denials(err):
    return [line for line in err.splitlines() if line.startswith("pledge: denied ")]


def expect_line(t, err, *parts, what=""):
    lines = denials(err)
    ok = any(all(p in line for p in parts) for line in lines)
    t.expect(ok, f"{what}: no report with {parts!r}; reports: {lines!r}; stderr tail {err[-300:]!r}")


def tmpfile(t, name):
    p = Path(t.ws.base) / name
    p.write_text("x\n")
    return str(p)


def case_pledge_report_cli_lines(t):
    """sworn pledge: one line per denial with the decoded call and the promise that fixes it; -q silences."""
    probe, f = str(pprobe_binary(t)), tmpfile(t, "report-f")
    res = host_pledge(t, "-V", "-p", "stdio rpath", "--", probe, "open_wronly", f, "ioctl_tcgets", "mmap_exec",
                      "socket_inet", "getpid")
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"eperm keeps going: {res.describe()}")
    t.expect("open_wronly " + f + " EPERM" in res.out, f"the call still fails with EPERM: {res.out!r}")
    expect_line(t, res.err, f'openat("{f}", O_WRONLY) in pprobe[', "]: needs wpath", what="open O_WRONLY")
    expect_line(t, res.err, "ioctl(0, TCGETS) in pprobe[", ": needs tty", what="isatty")
    expect_line(t, res.err, "mmap(NULL, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS", "needs prot_exec",
                "executable memory", what="PROT_EXEC")
    expect_line(t, res.err, "socket(AF_INET, SOCK_STREAM, 0)", "needs inet or anet or dns", what="socket")
    t.expect(not any("getpid" in line for line in denials(res.err)), "an allowed call was reported")
    res = host_pledge(t, "-V", "-q", "-p", "stdio rpath", "--", probe, "open_wronly", f, "getpid")
    t.expect(res.rc == 0 and "open_wronly " + f + " EPERM" in res.out, f"-q: {res.describe()}")
    t.expect(not denials(res.err), f"-q printed reports: {res.err!r}")
    # a shell redirection: O_CREAT needs cpath; a call in no promise says so
    res = host_pledge(t, "-V", "-p", "stdio rpath wpath", "--", "/bin/sh", "-c", f"echo x > {f}.new")
    expect_line(t, res.err, f'openat("{f}.new", O_WRONLY|O_CREAT|O_TRUNC, 0666) in sh[', "needs cpath",
                what="sh >")
    res = host_pledge(t, "-V", "-p", "stdio rpath wpath cpath", "--", str(rprobe_binary(t)), "fallocate", f)
    t.expect("fallocate EPERM" in res.out, f"fallocate: {res.describe()} {res.out!r}")
    expect_line(t, res.err, "fallocate(", "no promise allows it: fallocate is in no promise", what="fallocate")


def case_pledge_report_cli_kill_python(t):
    """penalty kill: python3 under 'stdio rpath' still dies of SIGSYS, and the report names TCGETS and tty first."""
    res = host_pledge(t, "-V", "-k", "-p", "stdio rpath", "--", "/usr/bin/python3", "-c", "print(1)")
    t.expect(res.rc in (128 + 31, -31), f"want death by SIGSYS: {res.describe()}")
    expect_line(t, res.err, "ioctl(", "TCGETS) in python3", "needs tty", what="python3 isatty")
    res = host_pledge(t, "-V", "-k", "-p", "stdio rpath tty", "--", "/usr/bin/python3", "-c", "print(1)")
    t.expect(res.rc == 0 and res.out.strip() == "1", f"with tty: {res.describe()} {res.out!r}")
    t.expect(not denials(res.err), f"with tty: reports {denials(res.err)!r}")


def case_pledge_report_dynamic_children_prot_exec(t):
    """A shell with exec but without prot_exec: its dynamic children are reported as needing prot_exec."""
    res = host_pledge(t, "-V", "-p", "stdio rpath proc exec", "--", "/bin/sh", "-c", "/bin/true; echo rc=$?")
    t.expect("rc=127" in res.out or "rc=126" in res.out, f"the child still fails: {res.describe()} {res.out!r}")
    expect_line(t, res.err, "PROT_EXEC", "in true[", "needs prot_exec (executable memory", what="ld.so of /bin/true")
    res = host_pledge(t, "-V", "-p", "stdio rpath proc exec prot_exec", "--", "/bin/sh", "-c", "/bin/true; echo rc=$?")
    t.expect("rc=0" in res.out and not denials(res.err), f"with prot_exec: {res.describe()} {res.err[-300:]!r}")


def case_pledge_report_threads_and_children(t):
    """Denied calls in a thread and in a forked child are reported with their own pids."""
    f = tmpfile(t, "report-thr")
    res = host_pledge(t, "-V", "-p", "stdio rpath proc", "--", str(rprobe_binary(t)), "thread_open", f,
                      "fork_open", f)
    t.expect("thread_open EPERM" in res.out and "fork_open EPERM" in res.out, f"{res.describe()} {res.out!r}")
    lines = [line for line in denials(res.err) if f'openat("{f}", O_WRONLY)' in line]
    pids = {line.split("[", 1)[1].split("]", 1)[0] for line in lines}
    t.expect(len(pids) >= 2, f"want reports from the thread and the child (two pids): {lines!r}")


def keep_run(t, cfg, *flags):
    cid, bundle = pbundle(t, cfg)
    return cid, t.rt("run", "--keep", *flags, "--bundle", str(bundle), cid)


def record(t, cid):
    p = t.rt.root / cid / "pledge.log"
    t.require(p.exists(), f"no {p}")
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def case_pledge_report_run_record(t):
    """sworn run: reports on run's stderr and in the state dir's pledge.log (readable after the container stopped)."""
    cfg = ann_config(t, ["/bin/pprobe", "open_wronly", "/tmp/f", "open_wronly", "/tmp/f", "ioctl_tcgets", "getpid"],
                     {"sworn.pledge.promises": "stdio rpath"})
    cid, res = keep_run(t, cfg)
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"run: {res.describe()}")
    expect_line(t, res.err, 'openat("/tmp/f", O_WRONLY) in pprobe[1]: needs wpath', what="run stderr")
    recs = record(t, cid)
    opens = [r for r in recs if r.get("syscall") == "openat"]
    t.expect(len(opens) == 1, f"a repeated denial is recorded once: {recs!r}")
    if opens:
        r = opens[0]
        t.expect(r["needs"] == ["wpath"] and r["pid"] == 1 and r["comm"] == "pprobe" and r["penalty"] == "eperm",
                 f"record fields: {r!r}")
    t.expect(any(r.get("needs") == ["tty"] for r in recs), f"TCGETS not recorded: {recs!r}")


def case_pledge_report_run_kill(t):
    """sworn run under kill: exit 159 and the report is in the record before the process died."""
    cfg = ann_config(t, ["/bin/pprobe", "getpid", "socket_unix", "getpid"],
                     {"sworn.pledge.promises": "stdio rpath inet", "sworn.pledge.penalty": "kill"})
    cid, res = keep_run(t, cfg)
    t.expect(res.rc == 159, f"run: {res.describe()}, want 159")
    t.expect(res.out.count("getpid ok") == 1, f"the process went on after the denied call: {res.out!r}")
    expect_line(t, res.err, "socket(AF_UNIX, SOCK_STREAM, 0) in pprobe[1]: needs unix", what="kill")
    recs = record(t, cid)
    t.expect(any(r.get("killed") and r.get("needs") == ["unix"] for r in recs), f"record: {recs!r}")


def case_pledge_report_record_capped(t):
    """2000 distinct denied calls: each still fails and is on stderr; pledge.log stops whole at its 64 KiB cap."""
    script = "i=0; while [ $i -lt 2000 ]; do echo > /tmp/f$i; i=$((i+1)); done; echo done"
    cid, res = keep_run(t, ann_config(t, ["/bin/sh", "-c", script], {"sworn.pledge.promises": "stdio rpath"}))
    t.expect(res.rc == 0 and res.out.strip() == "done", f"run: {res.describe()}")
    t.expect(res.err.count("Operation not permitted") == 2000, f"not every call failed: {res.err[-300:]!r}")
    t.expect(len(denials(res.err)) == 2000, f"{len(denials(res.err))} reports on stderr, want 2000")
    size = (t.rt.root / cid / "pledge.log").stat().st_size
    t.expect(32 * 1024 < size <= 64 * 1024, f"pledge.log is {size} bytes, want at most 64 KiB and nearly full")
    recs = record(t, cid)  # whole JSON lines only: the cap drops records, never halves one
    t.expect(all(r["needs"] == ["cpath"] and r["syscall"] == "openat" for r in recs), f"records: {recs[-2:]!r}")
    t.expect(recs and recs[0]["call"].startswith('openat("/tmp/f0"'), f"the first denial is kept: {recs[:1]!r}")


def case_pledge_report_create_start_exec(t):
    """Detached create/start and sworn exec: each pledged process tree has its reporter; exec prints to its stderr."""
    ann = {"sworn.pledge.promises": "stdio rpath"}
    cid, bundle = pbundle(t, ann_config(t, ["/bin/pprobe", "open_wronly", "/tmp/f", "sleep", "100"], ann))
    t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
    t.ok(t.rt("start", cid), "start")
    itlib.wait_until(lambda: any(r.get("syscall") == "openat" for r in record(t, cid)), timeout=5)
    t.expect(any(r.get("needs") == ["wpath"] for r in record(t, cid)), f"init's denial: {record(t, cid)!r}")
    res = t.rt("exec", cid, "/bin/pprobe", "ioctl_tcgets", "getpid")
    t.expect(res.rc == 0 and "ioctl_tcgets EPERM" in res.out, f"exec: {res.describe()}")
    expect_line(t, res.err, "ioctl(0, TCGETS) in pprobe[", "needs tty", what="exec stderr")
    t.expect(any(r.get("needs") == ["tty"] for r in record(t, cid)), f"exec's denial not recorded: {record(t, cid)!r}")
    t.ok(t.rt("delete", "--force", cid), "delete")
    t.expect(itlib.wait_until(lambda: not reporters_of(cid), timeout=5),
             f"reporters left after delete: {reporters_of(cid)!r}")


def reporters_of(needle):
    """pids of processes holding a seccomp listener whose command line mentions needle."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if needle not in (d / "cmdline").read_bytes().decode(errors="replace"):
                continue
            if any("seccomp notify" in os.readlink(fd) for fd in (d / "fd").iterdir()):
                out.append(int(d.name))
        except OSError:
            continue
    return out


def case_pledge_report_channel_unreachable(t):
    """The program holds no listener, cannot find one, cannot make its own, cannot replay the dmz's sendmsg."""
    rootfs_probe = "/bin/rprobe"
    cfg = ann_config(t, [rootfs_probe, "fds", "notif_recv", "own_listener"], {"sworn.pledge.promises": "stdio rpath"})
    cid, bundle = pbundle(t, cfg)
    dest = bundle / "rootfs" / "bin" / "rprobe"
    dest.write_bytes(Path(rprobe_binary(t)).read_bytes())
    os.chmod(dest, 0o755)
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.expect(res.rc == 0, f"run: {res.describe()}")
    t.expect("fds ok" in res.out, f"a seccomp fd is visible in /proc/self/fd: {res.out!r}")
    t.expect("notif_recv ok" in res.out, f"an fd answers SECCOMP_IOCTL_NOTIF_ID_VALID: {res.out!r}")
    t.expect("own_listener EPERM" in res.out, f"seccomp(NEW_LISTENER) from the program: {res.out!r}")
    expect_line(t, res.err, "seccomp(", "no promise allows it: seccomp is in no promise", what="own listener")
    # sendmsg without the secret words (pprobe sendmsg: args 3..5 are whatever libc leaves)
    _, _, res = prun(t, ann_config(t, ["/bin/pprobe", "sendmsg"], {"sworn.pledge.promises": "stdio"}))
    t.expect("sendmsg EPERM" in res.out, f"sendmsg without sendfd: {res.out!r}")
    expect_line(t, res.err, "sendmsg(", "needs dns or sendfd", what="sendmsg")


def case_pledge_report_reporter_gone_enosys(t):
    """With its reporter killed, a denied call still fails (ENOSYS from the kernel), unreported."""
    f = tmpfile(t, "gone-f")
    probe = str(rprobe_binary(t))
    argv = [*t.rt.prefix, "pledge", "-V", "-p", "stdio rpath", "--", probe, "sleep", "2", "fallocate", f]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        t.require(itlib.wait_until(lambda: reporters_of(probe), timeout=5), "no reporter found")
        for pid in reporters_of(probe):
            os.kill(pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    t.expect(b"fallocate ENOSYS" in out, f"want ENOSYS without a reporter: {out!r} {err[-300:]!r}")
    t.expect(b"pledge: denied" not in err, f"reported without a reporter?: {err!r}")


def case_pledge_report_reporters_exit(t):
    """After run returns, its reporter is gone too (it exits on the listener's hang-up)."""
    cfg = ann_config(t, ["/bin/pprobe", "open_wronly", "/tmp/f"], {"sworn.pledge.promises": "stdio rpath"})
    cid, _, res = prun(t, cfg)
    t.expect(res.rc == 0, f"run: {res.describe()}")
    t.expect(itlib.wait_until(lambda: not reporters_of(cid), timeout=5), f"reporter left: {reporters_of(cid)!r}")


def case_pledge_report_events(t):
    """sworn events streams each recorded denial as a 'pledge' event, live and after the container stopped."""
    ann = {"sworn.pledge.promises": "stdio rpath"}
    cid, bundle = pbundle(t, ann_config(t, ["/bin/pprobe", "sleep", "1", "open_wronly", "/tmp/f", "sleep", "100"],
                                        ann))
    t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
    t.ok(t.rt("start", cid), "start")
    proc = subprocess.Popen([*t.rt.prefix, "--root", str(t.rt.root), "events", "--interval", "60s", cid],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    got = None
    try:
        deadline = time.time() + 10
        while time.time() < deadline and got is None:
            line = proc.stdout.readline()
            if not line:
                break
            ev = json.loads(line)
            if ev.get("type") == "pledge":
                got = ev
    finally:
        proc.kill()
        proc.wait()
    t.expect(got is not None and got.get("id") == cid and got["data"].get("needs") == ["wpath"]
             and "openat" in got["data"].get("message", ""), f"live pledge event: {got!r}")
    t.ok(t.rt("kill", cid, "KILL"), "kill")
    itlib.wait_until(lambda: t.state(cid).get("status") == "stopped", timeout=5)
    res = t.rt("events", cid, timeout=10)
    evs = [json.loads(line) for line in res.out.splitlines() if line.strip()]
    t.expect(any(e.get("type") == "pledge" and e["data"].get("needs") == ["wpath"] for e in evs),
             f"events on the stopped container: {res.describe()} {res.out[-400:]!r}")


def case_pledge_report_in_json_log(t):
    """With --log FILE --log-format json (as containerd and podman call us), each report is also a JSON log line."""
    cfg = ann_config(t, ["/bin/pprobe", "open_wronly", "/tmp/f", "getpid"], {"sworn.pledge.promises": "stdio rpath"})
    cid, bundle = pbundle(t, cfg)
    log = Path(t.ws.base) / f"{cid}.log"
    res = t.rt("--log", str(log), "--log-format", "json", "run", "--bundle", str(bundle), cid)
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"run: {res.describe()}")
    t.require(itlib.wait_until(lambda: log.exists() and "denied" in log.read_text(), timeout=5),
              f"no report in {log}: {log.read_text() if log.exists() else 'missing'!r}")
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    t.expect(any(l.get("level") == "warning" and 'openat("/tmp/f", O_WRONLY) in pprobe[1]: needs wpath' in l["msg"]
                 and "time" in l for l in lines), f"log lines: {lines!r}")
