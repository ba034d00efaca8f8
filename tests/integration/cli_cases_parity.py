"""runc parity of the command line (issue #15 items 5 and 8): per-verb help,
unknown flags, flags after the container id, `kill ID 0`."""
import json

VERBS = ["create", "start", "run", "state", "kill", "delete", "list", "exec", "ps", "pause",
         "resume", "update", "events", "features", "spec", "pledge"]

# runc's spelling of flags sworn shares, per verb (runc 1.1 `runc VERB --help`)
RUNC_FLAGS = {"run": ["--bundle", "--console-socket", "--detach", "--pid-file", "--no-pivot",
                      "--no-new-keyring", "--preserve-fds", "--keep", "--no-subreaper"],
              "create": ["--bundle", "--console-socket", "--pid-file", "--no-pivot", "--no-new-keyring",
                         "--preserve-fds"],
              "exec": ["--console-socket", "--cwd", "--env", "--tty", "--user", "--additional-gids",
                       "--process", "--detach", "--pid-file", "--process-label", "--apparmor",
                       "--no-new-privs", "--cap", "--preserve-fds", "--cgroup", "--ignore-paused"],
              "kill": ["--all"], "delete": ["--force"], "list": ["--format", "--quiet"],
              "ps": ["--format"], "spec": ["--bundle", "--rootless"]}


def case_parity_verb_help(t):
    """`sworn VERB --help` (and -h) prints the verb's usage and flags on stdout, exit 0."""
    for verb in VERBS:
        for flag in ("--help", "-h"):
            res = t.rt(verb, flag)
            t.expect(res.rc == 0 and res.out.startswith(f"usage: sworn {verb}"),
                     f"{verb} {flag}: {res.describe()} {res.out[:80]!r}")
        res = t.rt(verb, "--help")
        for f in RUNC_FLAGS.get(verb, []):
            t.expect(f in res.out, f"{verb} --help does not list runc's {f}")


def case_parity_unknown_flag_usage(t):
    """An unknown flag names itself, prints the verb's usage on stderr and exits 1."""
    for verb in VERBS:
        if verb == "pledge":
            continue  # pledge.com's exit status for usage errors is 64
        res = t.rt(verb, "--no-such-flag", "x")
        t.expect(res.rc == 1 and "no-such-flag" in res.err and f"usage: sworn {verb}" in res.err,
                 f"{verb} --no-such-flag: {res.describe()}")
    res = t.rt("pledge", "--no-such-flag")
    t.expect(res.rc == 64 and "usage: sworn pledge" in res.err, f"pledge --no-such-flag: {res.describe()}")


def case_parity_flags_after_id(t):
    """runc (urfave/cli argument reordering) takes `delete ID --force`, `kill ID KILL --all`."""
    cid, _ = t.started(t.sleeper())
    res = t.rt("kill", cid, "KILL", "--all")
    t.expect(res.rc == 0, f"kill ID KILL --all: {res.describe()}")
    res = t.rt("delete", cid, "--force")
    t.expect(res.rc == 0, f"delete ID --force: {res.describe()}")
    t.expect(t.rt("state", cid).rc != 0, "container still there after delete ID --force")
    # exec keeps everything after the id as the command line
    cid, _ = t.started(t.sleeper())
    res = t.rt("exec", cid, "/bin/sh", "-c", "echo ok")
    t.expect(res.rc == 0 and res.out.strip() == "ok", f"exec ID sh -c: {res.describe()}")


def case_parity_kill_signal_zero(t):
    """`kill ID 0` checks that the container runs (kill(2)); fails once it is stopped."""
    cid, _ = t.started(t.sleeper())
    res = t.rt("kill", cid, "0")
    t.expect(res.rc == 0, f"kill ID 0 on a running container: {res.describe()}")
    t.ok(t.rt("kill", cid, "KILL"), "kill KILL")
    st = {}
    for _ in range(50):
        st = json.loads(t.rt("state", cid).out or "{}")
        if st.get("status") == "stopped":
            break
    res = t.rt("kill", cid, "0")
    t.expect(res.rc != 0, f"kill ID 0 on a stopped container: {res.describe()}")
