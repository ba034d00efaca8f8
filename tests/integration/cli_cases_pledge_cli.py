"""test_cli.py cases: `sworn pledge` on the host, pledge.com's command line
(stdio on pipes, flags, vminfo/tmppath, a python http.server fetched by
wget). The probe and host_pledge are in cli_cases_pledge.py."""
import os
import signal
import socket
from pathlib import Path

import itlib
from itlib import finish, spawn
from cli_cases_pledge import check_ops, free_ports, host_pledge, pprobe_binary, results, sworn_cmd, wait_port


# ---------------------------------------------------------------- sworn pledge on the host


def case_pledge_cli_stdio_pipes(t):
    """stdio unveils /dev/stdin etc.: a pipe or socket on fd 0/1/2 must not make `sworn pledge` fail."""
    probe = str(pprobe_binary(t))
    res = host_pledge(t, "-p", "stdio", "--", probe, "getpid")
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"stdin /dev/null: {res.describe()}")
    r, w = os.pipe()
    try:
        res = host_pledge(t, "-p", "stdio", "--", probe, "getpid", stdin=r)
    finally:
        os.close(r)
        os.close(w)
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"stdin a pipe: {res.describe()}")
    a, b = socket.socketpair()
    try:
        res = host_pledge(t, "-p", "stdio", "--", probe, "getpid", stdin=a.fileno())
    finally:
        a.close()
        b.close()
    t.expect(res.rc == 0 and "getpid ok" in res.out, f"stdin a socket: {res.describe()}")




def case_pledge_cli_basics(t):
    probe = str(pprobe_binary(t))
    res = host_pledge(t, "-T", "pledge")
    t.expect(res.rc == 0, f"-T pledge: {res.describe()}")
    res = host_pledge(t, "-T", "unveil")
    t.expect(res.rc == 0, f"-T unveil (Landlock ABI 7 here): {res.describe()}")
    res = host_pledge(t, "-p", "stdio bogus", "--", "/bin/true")
    t.expect(res.rc == 21, f"unknown promise: {res.describe()}, want 21")
    res = host_pledge(t, "-p", "stdio thread", "--", "/bin/true")
    t.expect(res.rc == 0 and "thread" in res.err, f"'thread' (warning, accepted): {res.describe()}")
    res = host_pledge(t, "--", "/no/such/program")
    t.expect(res.rc == 10, f"missing program: {res.describe()}, want 10")
    res = host_pledge(t, "--", "no-such-program-xyz")
    t.expect(res.rc == 10, f"program not on PATH: {res.describe()}, want 10")
    res = host_pledge(t, "-v", "rq:/tmp", "--", "/bin/true")
    t.expect(res.rc == 20, f"bad unveil perm: {res.describe()}, want 20")
    # default promises "stdio rpath"; dynamic /bin/sh starts (rpath prot_exec added), but ls cannot be exec'd
    # dash forks first ("Cannot fork"); busybox sh execs the last command itself (EPERM from execve)
    res = host_pledge(t, "-p", "stdio rpath", "--", "/bin/sh", "-c", "ls /")
    t.expect(res.rc not in (0, None) and "bin" not in res.out, f"sh -c ls without exec: {res.describe()}")
    t.expect("Cannot fork" in res.err or "Operation not permitted" in res.err,
             f"sh -c ls: want a fork/exec refusal: {res.err.strip()[-300:]!r}")
    res = host_pledge(t, "-p", "stdio rpath", "--", "/bin/sh", "-c", "exec ls /")
    t.expect(res.rc not in (0, None) and "Operation not permitted" in res.err,
             f"sh -c 'exec ls /' without exec: {res.describe()}")
    # ls is dynamic: after start-up sh keeps only its promises, so exec-ing ls needs prot_exec
    res = host_pledge(t, "-p", "stdio rpath proc exec prot_exec", "-v", "rx:/usr", "-v", "r:/etc", "--",
                      "/bin/sh", "-c", "ls /usr && echo ls-ok")
    t.expect(res.rc == 0 and "ls-ok" in res.out, f"sh -c ls with proc exec: {res.describe()}")
    # default promises, static probe
    res = host_pledge(t, "--", probe, "open_rdonly", "/etc/hostname", "fork", "open_wronly", "/dev/null")
    t.expect(res.rc == 0, f"default promises: {res.describe()}")
    got = results(res.out)
    t.expect(got.get("fork") == "EPERM@fork" and got.get("open_wronly /dev/null", "").startswith("EPERM"),
             f"default promises are 'stdio rpath': {got}")
    t.expect(got.get("open_rdonly /etc/hostname", "").startswith("EACCES"),
             f"no -v: /etc/hostname is veiled: {got}")
    res = host_pledge(t, "-v", "/etc/hostname", "-v", "r:/no/such/dir", "--", probe, "open_rdonly", "/etc/hostname")
    t.expect(res.rc == 0 and results(res.out).get("open_rdonly /etc/hostname") == "ok",
             f"-v PATH (default r; missing -v paths skipped): {res.describe()}")
    res = host_pledge(t, "-V", "--", probe, "open_rdonly", "/etc/hostname")
    t.expect(res.rc == 0 and results(res.out).get("open_rdonly /etc/hostname") == "ok", f"-V: {res.describe()}")
    res = host_pledge(t, "-k", "--", probe, "getpid", "fork", "getpid")
    t.expect(res.rc == -31 or res.rc == 128 + 31, f"-k: {res.describe()}, want SIGSYS")
    # kill/raise on itself under stdio
    res = host_pledge(t, "-p", "stdio", "--", probe, "kill_self", "10", "raise_self", "12")
    check_ops(t, "sworn pledge -p stdio", res, [("kill_self 10", "ok"), ("raise_self 12", "ok")])




def case_pledge_cli_vminfo_tmppath(t):
    """vminfo and tmppath: pledge.com's automatic unveils."""
    probe = str(pprobe_binary(t))
    res = host_pledge(t, "-p", "stdio rpath", "--", probe, "open_rdonly", "/proc/meminfo")
    check_ops(t, "stdio rpath: /proc/meminfo", res, [("open_rdonly /proc/meminfo", "EACCES")])
    res = host_pledge(t, "-p", "stdio rpath vminfo", "--", probe, "open_rdonly", "/proc/meminfo")
    check_ops(t, "stdio rpath vminfo: /proc/meminfo", res, [("open_rdonly /proc/meminfo", "ok")])
    tmp = Path(f"/tmp/sworn-pledge-tmppath-{os.getpid()}")
    tmp.write_text("x")
    t.on_cleanup(lambda: tmp.unlink(missing_ok=True))
    res = host_pledge(t, "-p", "stdio rpath", "--", probe, "unlink", str(tmp))
    check_ops(t, "stdio rpath: unlink in /tmp", res, [(f"unlink {tmp}", "EPERM")])
    res = host_pledge(t, "-p", "stdio rpath tmppath", "--", probe, "unlink", str(tmp), "open_creat", str(tmp))
    check_ops(t, "stdio rpath tmppath", res, [(f"unlink {tmp}", "ok"), (f"open_creat {tmp}", "EPERM")])
    t.expect(not tmp.exists(), "tmppath unlink did not remove the file")




def case_pledge_cli_http_server_and_fetch(t):
    """nomad-pledge-driver README, made local: python3 http.server under 'stdio rpath inet', fetched by
    busybox wget under 'stdio rpath inet dns sendfd' (and refused under 'stdio rpath')."""
    py = "/usr/bin/python3.11"
    if not os.path.exists(py):
        raise itlib.Skip("no /usr/bin/python3.11")
    served = Path(t.ws.base) / "served"
    served.mkdir(exist_ok=True)
    (served / "hello.txt").write_text("hello from pledge\n")
    port, = free_ports(1)
    argv = [*sworn_cmd(t), "pledge", "-p", "stdio rpath inet", "-v", "r:/etc/mime.types", "-v", f"r:{served}",
            "-v", "r:/usr/lib/python3.11",  # the stdlib is all python3.11 needs (ld.so + libs: auto)
            "--", py, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(served)]
    server = spawn(argv)

    def stop():
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        rc, out = finish(server, 5)
        t.note(f"server exit {rc}; log tail: {out.strip()[-400:]!r}")
    t.on_cleanup(stop)
    if not t.expect(wait_port(port, 15), f"http.server under sworn pledge never listened on {port} "
                                         f"(exit {server.poll()})"):
        return
    url = f"http://127.0.0.1:{port}/hello.txt"
    res = host_pledge(t, "-p", "stdio rpath inet dns sendfd", "--", "/bin/busybox", "wget", "-q", "-O-", url)
    t.expect(res.rc == 0 and res.out == "hello from pledge\n",
             f"wget under 'stdio rpath inet dns sendfd': {res.describe()} {res.out!r}")
    res = host_pledge(t, "-p", "stdio rpath", "--", "/bin/busybox", "wget", "-q", "-O-", url)
    t.expect(res.rc not in (0, None) and "hello" not in res.out,
             f"wget under 'stdio rpath' fetched: {res.describe()} {res.out!r}")
    # python urllib too (dynamic client)
    code = f"import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('{url}', timeout=5).read().decode())"
    res = host_pledge(t, "-p", "stdio rpath inet dns sendfd", "-v", "r:/usr/lib/python3.11", "-v", "r:/usr/lib/python3",
                      "-v", "r:/etc", "--", py, "-c", code)
    t.expect(res.rc == 0 and res.out == "hello from pledge\n", f"urllib client: {res.describe()}")
    # the server itself is still confined: a file next to the served dir is not served
    t.expect(server.poll() is None, f"server died (exit {server.poll()})")


