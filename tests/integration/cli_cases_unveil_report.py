"""test_cli.py cases: unveil (Landlock) denial reports (issue #12).

Landlock ABI 7 logs denials through the audit subsystem; the pledge reporter
reads them (NETLINK_AUDIT, the read-only multicast group) and reports
    unveil: denied write "/data/x" in sh[12]: needs w:/data
beside the pledge reports: stderr of run/exec/`sworn pledge`, pledge.log
(type "unveil") and `sworn events`.  Audit must be on for the kernel to log
anything: these cases turn it on for their duration (AUDIT_SET) and restore
the previous setting; with it off the reporter says once that it cannot.
"""
import contextlib
import json
import socket
import struct
import subprocess
import time

import itlib
from cli_cases_pledge import ann_config, host_pledge, pbundle
from cli_cases_pledge_report import record

AUDIT_GET, AUDIT_SET, NETLINK_AUDIT = 1000, 1001, 9


def audit_enabled():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    try:
        s.bind((0, 0))
        s.send(struct.pack("=IHHII", 16, AUDIT_GET, 1, 1, 0))
        for _ in range(3):
            d = s.recv(8192)
            if struct.unpack("=H", d[4:6])[0] == AUDIT_GET:
                return struct.unpack("=I", d[20:24])[0]
    finally:
        s.close()
    return None


def audit_set(enabled):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    try:
        s.bind((0, 0))
        st = struct.pack("=10I", 1, enabled, 0, 0, 0, 0, 0, 0, 0, 0)  # mask: AUDIT_STATUS_ENABLED
        s.send(struct.pack("=IHHII", 16 + len(st), AUDIT_SET, 5, 1, 0) + st)
        s.recv(8192)
    finally:
        s.close()


@contextlib.contextmanager
def audit_switched(t, enabled):
    was = audit_enabled()
    if was is None:
        raise itlib.Skip("no NETLINK_AUDIT here: the kernel has no audit")
    if was == 2:
        raise itlib.Skip("audit is locked (enabled=2): cannot be switched for the test")
    audit_set(enabled)
    try:
        yield
    finally:
        audit_set(was)


def audit_on(t):
    return audit_switched(t, 1)


def unveils(err):
    return [line for line in err.splitlines() if line.startswith("unveil: denied ")]


def case_unveil_report_cli(t):
    """sworn pledge: a write outside the unveiled paths is reported with the path and needs w:<dir>; -q and --no-report silence."""
    d = itlib.Path(t.ws.base) / "ur"
    d.mkdir()
    (d / "f").write_text("x\n")
    f = str(d / "f")
    with audit_on(t):
        res = host_pledge(t, "-p", "stdio rpath wpath cpath", "-v", "r:/", "--", "/bin/sh", "-c",
                          f"echo y >> {f}; echo rc=$?")
        if "unveil denials cannot be reported here" in res.err and "Landlock ABI" in res.err:
            raise itlib.Skip(f"the kernel lacks Landlock audit: {res.err.strip()}")
        t.expect("rc=2" in res.out, f"the write still fails: {res.describe()} {res.out!r}")
        t.expect(any(f'denied write "{f}" in sh[' in x and x.endswith(f"needs w:{d}") for x in unveils(res.err)),
                 f"no unveil report for {f}: {res.err!r}")
        res = host_pledge(t, "-q", "-p", "stdio rpath wpath cpath", "-v", "r:/", "--", "/bin/sh", "-c",
                          f"echo y >> {f}; echo rc=$?")
        t.expect("rc=2" in res.out and not unveils(res.err), f"-q: {res.describe()} {res.err!r}")
        res = host_pledge(t, "--no-report", "-p", "stdio rpath wpath cpath", "-v", "r:/", "--", "/bin/sh", "-c",
                          f"echo y >> {f}; echo rc=$?")
        t.expect("rc=2" in res.out and not unveils(res.err), f"--no-report: {res.describe()} {res.err!r}")
    t.expect(open(f).read() == "x\n", "the file was written")


def case_unveil_report_audit_off_said_once(t):
    """With audit disabled the reporter says, once, that unveil denials cannot be reported; the write still fails."""
    with audit_switched(t, 0):
        res = host_pledge(t, "-p", "stdio rpath wpath cpath", "-v", "r:/", "--", "/bin/sh", "-c",
                          "echo y >> /etc/hostname; echo rc=$?")
    t.expect("rc=2" in res.out, f"{res.describe()} {res.out!r}")
    t.expect(res.err.count("unveil denials cannot be reported here") == 1 and "audit" in res.err,
             f"want one notice: {res.err!r}")


def unveil_cfg(t, args, **extra):
    ann = {"sworn.pledge.promises": "stdio rpath wpath cpath", "sworn.unveil": json.dumps(["r:/", "rwc:/tmp"])}
    ann.update(extra)
    return ann_config(t, args, ann)


def case_unveil_report_run_exec_events(t):
    """run and exec: the denial is on stderr, in pledge.log (type unveil) and in sworn events; --no-report annotation: none."""
    with audit_on(t):
        cid, bundle = pbundle(t, unveil_cfg(t, ["/bin/pprobe", "open_wronly", "/etc/hostname", "getpid"]))
        res = t.rt("run", "--keep", "--bundle", str(bundle), cid)
        t.expect(res.rc == 0 and "open_wronly /etc/hostname EACCES" in res.out, f"run: {res.describe()} {res.out!r}")
        t.expect(any('denied write "/etc/hostname" in pprobe[1]: needs w:/etc' in x for x in unveils(res.err)),
                 f"run stderr: {res.err!r}")
        recs = [r for r in record(t, cid) if r.get("type") == "unveil"]
        t.expect(len(recs) == 1 and recs[0]["path"] == "/etc/hostname" and recs[0]["needs"] == ["w:/etc"]
                 and recs[0]["pid"] == 1 and recs[0]["comm"] == "pprobe", f"pledge.log: {record(t, cid)!r}")
        res = t.rt("events", cid, timeout=10)
        evs = [json.loads(x) for x in res.out.splitlines() if x.strip()]
        t.expect(any(e.get("type") == "unveil" and e["data"].get("needs") == ["w:/etc"] for e in evs),
                 f"events: {res.out[-400:]!r}")
        t.ok(t.rt("delete", "--force", cid), "delete")

        cid, bundle = pbundle(t, unveil_cfg(t, ["/bin/pprobe", "sleep", "100"]))
        t.ok(t.rt("create", "--bundle", str(bundle), cid), "create")
        t.ok(t.rt("start", cid), "start")
        res = t.rt("exec", cid, "/bin/pprobe", "open_wronly", "/etc/passwd")
        t.expect("open_wronly /etc/passwd EACCES" in res.out, f"exec: {res.describe()} {res.out!r}")
        t.expect(any('denied write "/etc/passwd" in pprobe[' in x and x.endswith("needs w:/etc")
                     for x in unveils(res.err)), f"exec stderr: {res.err!r}")
        t.expect(itlib.wait_until(lambda: any(r.get("path") == "/etc/passwd" for r in record(t, cid)), timeout=5),
                 f"exec's denial not in pledge.log: {record(t, cid)!r}")
        t.ok(t.rt("delete", "--force", cid), "delete")

        cid, bundle = pbundle(t, unveil_cfg(t, ["/bin/pprobe", "open_wronly", "/etc/hostname"],
                                            **{"sworn.pledge.report": "false"}))
        res = t.rt("run", "--keep", "--bundle", str(bundle), cid)
        t.expect("open_wronly /etc/hostname EACCES" in res.out, f"report off: the call still fails: {res.out!r}")
        t.expect(not unveils(res.err), f"report off: {res.err!r}")
        p = t.rt.root / cid / "pledge.log"
        t.expect(not p.exists() or "unveil" not in p.read_text(), f"report off: {p}")
        t.ok(t.rt("delete", "--force", cid), "delete")


def case_unveil_report_bad_switch(t):
    """sworn.pledge.report takes true or false only: anything else is refused, naming the annotation."""
    cid, bundle = pbundle(t, unveil_cfg(t, ["/bin/pprobe", "getpid"], **{"sworn.pledge.report": "no"}))
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.expect(res.rc != 0 and "sworn.pledge.report" in res.err, f"{res.describe()}")


def case_unveil_report_channel_not_steerable(t):
    """The program cannot open the audit socket the reports come through (no promise allows AF_NETLINK); its write stays refused."""
    prog = ("import socket\n"
            "try:\n"
            "    s = socket.socket(16, 3, 9); s.bind((0, 1)); print('joined')\n"
            "except OSError as e:\n"
            "    print('refused', e.errno)\n"
            "try:\n"
            "    open('/etc/hostname', 'a'); print('written')\n"
            "except OSError as e:\n"
            "    print('write', e.errno)\n")
    with audit_on(t):
        res = host_pledge(t, "-p", "stdio rpath wpath cpath inet unix dns tty prot_exec", "-v", "r:/", "--",
                          "/usr/bin/python3", "-c", prog)
    t.expect("refused 1" in res.out and "write 13" in res.out, f"{res.describe()} {res.out!r}")
    t.expect(any("socket(AF_NETLINK" in x for x in res.err.splitlines()), f"not reported: {res.err!r}")
    t.expect(any('denied write "/etc/hostname" in python3[' in x for x in unveils(res.err)), f"{res.err!r}")
