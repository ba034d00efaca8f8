"""test_cli.py cases: pledge learn mode (issue #12).

`sworn pledge --learn` and the sworn.pledge.learn annotation run the program
with every call allowed and recorded, then propose the smallest promises and
unveil rules.  Each case closes the loop: learn, rerun under the proposal with
zero denials, then take one promise away and see the precise report.
"""
import json
import re
import shlex
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import itlib
from cli_cases_pledge import ann_config, free_ports, host_pledge, pbundle, pprobe_binary, sworn_cmd, wait_port
from cli_cases_pledge_report import denials, expect_line
from cli_cases_unveil_report import audit_on, unveils


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
    # without inet the server cannot make its socket: it exits, and the report says why
    res = rerun(t, without(promises, "inet"), rules, *cmd)
    t.expect(res.rc not in (0, None), f"without inet: {res.describe()}")
    expect_line(t, res.err, "socket(AF_INET, SOCK_STREAM", "in python3[", "needs inet or anet or dns",
                what="python3 without inet")


def case_pledge_learn_wget_loopback(t):
    """wget over loopback: learn, fetch again under the proposal with zero denials; without its network
    promise the socket is reported, without the output directory's rule the write."""
    www, out = Path(t.ws.base) / "learn-wget-www", Path(t.ws.base) / "learn-wget-out"
    www.mkdir()
    out.mkdir()
    (www / "hello.txt").write_text("hello wget\n")
    got, port = out / "got.txt", free_ports(1)[0]
    cmd = ["/usr/bin/wget", "-q", "--tries=1", "-O", str(got), f"http://127.0.0.1:{port}/hello.txt"]
    if not Path(cmd[0]).exists():
        raise itlib.Skip("no /usr/bin/wget")
    server = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", str(port)], cwd=www,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        t.require(wait_port(port, timeout=15), "the loopback server did not come up")
        res = host_pledge(t, "--learn", "--", *cmd)
        t.expect(res.rc == 0 and got.read_text() == "hello wget\n", f"learn: {res.describe()}")
        promises, rules = learned_flags(t, res.err)
        t.expect(any(r.endswith(f":{out}") and "w" in r.split(":")[0] for r in rules), f"no rule for {out}: {rules!r}")
        got.unlink()
        res = rerun(t, promises, rules, *cmd)
        t.expect(res.rc == 0 and got.exists() and got.read_text() == "hello wget\n"
                 and not denials(res.err) and not unveils(res.err),
                 f"rerun under {promises!r} {rules!r}: {res.describe()} {res.err[-400:]!r}")
        net = next((p for p in ("inet", "dns", "anet") if p in promises.split()), None)
        t.require(net is not None, f"learned {promises!r}: no promise for the socket")
        res = rerun(t, without(promises, net), rules, *cmd)
        t.expect(res.rc != 0, f"without {net}: {res.describe()}")
        expect_line(t, res.err, "socket(AF_INET, SOCK_STREAM", "in wget[", "needs inet or anet or dns",
                    what=f"wget without {net}")
        got.unlink(missing_ok=True)
        with audit_on(t):
            res = rerun(t, promises, [r for r in rules if not r.endswith(f":{out}")], *cmd)
        t.expect(res.rc != 0 and not got.exists(), f"without the rule for {out}: {res.describe()}")
        t.expect(any(f'"{out}' in x and " in wget[" in x and x.endswith(f"needs c:{out}") for x in unveils(res.err)),
                 f"without the rule for {out}: no unveil report naming it: {res.err[-600:]!r}")
    finally:
        server.terminate()
        server.wait()


def case_pledge_learn_container_annotation(t):
    """sworn.pledge.learn in a bundle: a busybox script that writes and execs; run prints the proposal and keeps it
    in the state dir; the proposal runs clean; without cpath the write is reported."""
    script = "echo hi > /tmp/out; cat /tmp/out; ls /data >/dev/null; (exec /bin/true)"
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
    t.expect("exec" in ann["sworn.pledge.promises"].split(), f"the script's exec not learned: {ann!r}")
    fewer = dict(ann, **{"sworn.pledge.promises": without(ann["sworn.pledge.promises"], "cpath")})
    cid3, bundle3 = pbundle(t, ann_config(t, ["/bin/sh", "-c", script], fewer))
    res = t.rt("run", "--bundle", str(bundle3), cid3)
    t.expect("hi" not in res.out, f"without cpath: {res.describe()}")
    expect_line(t, res.err, 'openat("/tmp/out", O_WRONLY|O_CREAT|O_TRUNC, 0666) in sh[1]: needs cpath',
                what="busybox sh without cpath")


def case_pledge_learn_proposal_pastes(t):
    """The learned 'sworn pledge' line pastes into a shell as is (quoted words, printed once), long options work
    after -p ARG, an O_CREAT open of a file that exists needs no c, and under run the program is on the line."""
    d = Path(t.ws.base) / "learn paste"
    d.mkdir()
    (d / "there").write_text("")
    script = f"echo 'it''s here' > '{d}/there'; cat '{d}/there'"
    res = host_pledge(t, "-p", "stdio", "--learn", "--", "/bin/sh", "-c", script)
    t.expect(res.rc == 0 and "its here" in res.out, f"--learn after -p: {res.describe()} {res.err[-300:]!r}")
    lines = [l.strip() for l in res.err.splitlines() if l.strip().startswith("sworn pledge -p '")]
    t.require(len(lines) == 1, f"want the proposal once: {res.err[-800:]!r}")
    t.expect(re.search(f"-v 'r?w:{re.escape(str(d))}'", lines[0]) and f"c:{d}" not in lines[0],
             f"an existing file opened with O_CREAT wants w on its directory only: {lines[0]!r}")
    t.expect(res.err.count("pledge learn: {") == 0, f"printed twice: {res.err[-800:]!r}")
    sh = subprocess.run(["/bin/sh", "-c", lines[0].replace("sworn pledge", " ".join(map(shlex.quote, sworn_cmd(t))) + " pledge", 1)],
                        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    t.expect(sh.returncode == 0 and sh.stdout == "its here\n" and not denials(sh.stderr),
             f"pasted {lines[0]!r}: rc={sh.returncode} {sh.stdout!r} {sh.stderr[-300:]!r}")
    res = host_pledge(t, "-p", "stdio rpath", "--no-report", "--", "/bin/sh", "-c", f"echo x > '{d}/there'")
    t.expect(res.rc != 0 and "denied" not in res.err, f"--no-report after -p: {res.describe()} {res.err!r}")
    cfg = ann_config(t, ["/bin/echo", "a b"], {"sworn.pledge.learn": "true"})
    cid, bundle = pbundle(t, cfg)
    res = t.rt("run", "--bundle", str(bundle), cid)
    t.expect(res.rc == 0 and any(l.strip().endswith("-- /bin/echo 'a b'") for l in res.err.splitlines()),
             f"run: the program on the learned line: {res.err[-600:]!r}")
