"""test_cli.py cases: pledge learn mode (issue #12).

`sworn pledge --learn` and the sworn.pledge.learn annotation run the program
with every call allowed and recorded, then propose the smallest promises and
unveil rules.  Each case closes the loop: learn, rerun under the proposal with
zero denials, then take one promise away and see the precise report.
"""
import json
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import itlib
from cli_cases_pledge import ann_config, free_ports, host_pledge, pbundle, pprobe_binary, wait_port
from cli_cases_pledge_report import denials, expect_line


def learned_flags(t, err):
    """(promises, [unveil rules]) from the 'sworn pledge -p ...' line learn mode prints."""
    line = next((l for l in err.splitlines() if l.strip().startswith("sworn pledge -p '")), None)
    t.require(line is not None, f"no learned 'sworn pledge' line in: {err[-600:]!r}")
    promises = line.split("-p '", 1)[1].split("'", 1)[0]
    head = line.split(" -- ", 1)[0]
    return promises, re.findall(r" -v (\S+)", head)


def without(promises, name):
    return " ".join(p for p in promises.split() if p != name)


def rerun(t, promises, rules, *cmd):
    args = ["-p", promises]
    for r in rules:
        args += ["-v", r]
    return host_pledge(t, *args, "--", *cmd)


def case_pledge_learn_cli_shell_script(t):
    """A shell script that writes and execs: learn, rerun clean, and without cpath see 'needs cpath'."""
    d = Path(t.ws.base) / "learn-sh"
    d.mkdir()
    script = f"echo hi > {d}/out; cat {d}/out; /bin/true"
    res = host_pledge(t, "--learn", "--", "/bin/sh", "-c", script)
    t.expect(res.rc == 0 and "hi" in res.out, f"learn run: {res.describe()}")
    t.expect("LEARN MODE" in res.err and "NOT a sandbox" in res.err, f"no loud warning: {res.err[-300:]!r}")
    promises, rules = learned_flags(t, res.err)
    for p in ("stdio", "cpath", "exec", "proc", "prot_exec"):
        t.expect(p in promises.split(), f"learned promises {promises!r} lack {p}")
    t.expect(f"rwc:{d}" in rules or f"wc:{d}" in rules, f"no write/create rule for {d}: {rules!r}")
    t.expect("annotations: {" in res.err and "nomad task config {" in res.err, f"formats: {res.err[-600:]!r}")
    (d / "out").unlink()
    res = rerun(t, promises, rules, "/bin/sh", "-c", script)
    t.expect(res.rc == 0 and res.out.strip() == "hi" and not denials(res.err),
             f"rerun under {promises!r} {rules!r}: {res.describe()} {res.err[-300:]!r}")
    (d / "out").unlink()
    res = rerun(t, without(promises, "cpath"), rules, "/bin/sh", "-c", script)
    expect_line(t, res.err, f'openat("{d}/out", O_WRONLY|O_CREAT|O_TRUNC, 0666) in sh[', "needs cpath",
                what="without cpath")


def case_pledge_learn_static_program(t):
    """A static program: learned promises cover exactly what it did; dropping inet reports the socket."""
    probe = str(pprobe_binary(t))
    d = Path(t.ws.base) / "learn-static"
    d.mkdir()
    ops = ["open_creat", f"{d}/new", "fork", "socket_inet", "getpid"]
    res = host_pledge(t, "--learn", "--", probe, *ops)
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"learn: {res.describe()}")
    promises, rules = learned_flags(t, res.err)
    t.expect(set(promises.split()) >= {"stdio", "cpath", "proc", "inet"}, f"learned {promises!r}")
    res = rerun(t, promises, rules, probe, *ops)
    t.expect(res.rc == 0 and "socket_inet ok" in res.out and "fork ok" in res.out and not denials(res.err),
             f"rerun: {res.describe()} {res.out!r} {res.err[-300:]!r}")
    res = rerun(t, without(promises, "inet"), rules, probe, *ops)
    t.expect("socket_inet EPERM" in res.out, f"without inet: {res.out!r}")
    expect_line(t, res.err, "socket(AF_INET, SOCK_STREAM, 0) in pprobe[", "needs inet or anet or dns",
                what="without inet")


def serve_and_fetch(t, argv, root, port):
    proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        up = wait_port(port, timeout=15)
        body = None
        if up:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=10) as r:
                body = r.read()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    return body, out.decode(errors="replace"), err.decode(errors="replace")


def case_pledge_learn_python_http_server(t):
    """python3 http.server serving a file: learn, serve again under the proposal with zero denials."""
    root = Path(t.ws.base) / "learn-http"
    root.mkdir()
    (root / "hello.txt").write_text("hello learn\n")
    port = free_ports(1)[0]
    cmd = ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    body, _, err = serve_and_fetch(t, [*t.rt.prefix, "pledge", "--learn", "--", *cmd], root, port)
    t.expect(body == b"hello learn\n", f"learn: fetched {body!r}; {err[-400:]!r}")
    promises, rules = learned_flags(t, err)
    t.expect({"stdio", "inet", "rpath"} <= set(promises.split()), f"learned {promises!r}")
    args = [*t.rt.prefix, "pledge", "-p", promises]
    for r in rules:
        args += ["-v", r]
    body, _, err = serve_and_fetch(t, [*args, "--", *cmd], root, port)
    t.expect(body == b"hello learn\n" and not denials(err),
             f"rerun under {promises!r}: fetched {body!r}; denials {denials(err)!r}")


def case_pledge_learn_container_annotation(t):
    """sworn.pledge.learn in a bundle: run prints the proposal and keeps it in the state dir; the proposal runs clean."""
    script = "echo hi > /tmp/out; cat /tmp/out; ls /data >/dev/null"
    cfg = ann_config(t, ["/bin/sh", "-c", script], {"sworn.pledge.learn": "true"})
    cid, bundle = pbundle(t, cfg)
    res = t.rt("run", "--keep", "--bundle", str(bundle), cid)
    t.expect(res.rc == 0 and "hi" in res.out, f"learn run: {res.describe()}")
    t.expect("LEARN MODE" in res.err and "NOT a sandbox" in res.err, f"warning: {res.err[-300:]!r}")
    learned_file = t.rt.root / cid / "pledge.learned.json"
    t.require(itlib.wait_until(learned_file.exists, timeout=5), f"no {learned_file}")
    ann = json.loads(learned_file.read_text())["annotations"]
    t.expect("cpath" in ann["sworn.pledge.promises"].split(), f"learned annotations: {ann!r}")
    cfg = ann_config(t, ["/bin/sh", "-c", script], ann)
    cid2, bundle2 = pbundle(t, cfg)
    res = t.rt("run", "--bundle", str(bundle2), cid2)
    t.expect(res.rc == 0 and res.out.strip() == "hi" and not denials(res.err),
             f"rerun under {ann!r}: {res.describe()} {res.err[-300:]!r}")
