"""Pledge denial reports and learn mode as TaskEvents (issue #12): each distinct
denial of a pledged task becomes one TaskEvent naming the missing promise,
a program looping on denied calls yields a bounded number of events (and
the plugin does not grow), a restarted plugin does not announce old denials
again, and a `learn = true` task says it is no sandbox and ends with the
Nomad `config {}` snippet, under which the same program runs without denials."""
import json
import os
import threading
import time

import nomadlib as nl
from driver_cases import SH, exit_of, need
from driver_cases_exec import rss_kb

WRITE = "echo hi > /local/f"
# Waits for the test without exec (the pledged tasks have no exec/proc).
GATE = "read go < /local/gate"


def gate(run):
    os.mkfifo(run.alloc.task_dir / "local/gate")


def open_gate(run):
    def write():
        with open(run.alloc.task_dir / "local/gate", "w") as f:
            f.write("go\n")
    threading.Thread(target=write, daemon=True).start()


def events_of(s, run, stream=None):
    ev = stream or s.streams["TaskEvents"]
    return [e for _, e in list(ev.items) if e.task_id == run.id]


def denials(s, run, stream=None):
    return [e for e in events_of(s, run, stream) if e.message.startswith(("pledge:", "unveil:"))]


def wait_event(t, s, run, pred, what, timeout=10):
    ok = nl.wait_until(lambda: [e for e in events_of(s, run) if pred(e)], timeout)
    t.expect(ok, f"no TaskEvent {what}: {[e.message for e in events_of(s, run)]}")
    return [e for e in events_of(s, run) if pred(e)]


def restart_plugin(t, s, runs):
    for st in s.streams.values():
        st.cancel()
    s.plugin.kill()
    p, c = s.launch()
    t.rpc_ok(lambda: c.set_config(s.plugin_config()), "SetConfig on the new instance")
    s.plugin, s.client = p, c
    s.streams = {"Fingerprint": c.fingerprint(), "TaskEvents": c.task_events()}
    alive = [r for r in (getattr(s, "main", None),) if r and r.id and nl.alloc_pids(r.alloc.id)]
    for r in runs + alive:
        h = s.pb.drv.TaskHandle()
        h.CopyFrom(r.handle)
        h.config.msgpack_driver_config = b""  # not persisted by Nomad
        t.rpc_ok(lambda: c.recover_task(h), f"RecoverTask {r.alloc.task}")


def case_pledge_denial_event(t, s):
    """A shell under `stdio rpath` writing a file: one TaskEvent with the
    reporter's explanation (needs cpath), and the plugin log has it too."""
    need(t, s)
    run = s.task(t, "pdeny", SH, ["-c", f"{WRITE}; echo wrote; {GATE}"], promises="stdio rpath")
    gate(run)
    s.start(t, run)
    got = wait_event(t, s, run, lambda e: "needs cpath" in e.message, "naming needs cpath")
    for e in got:
        t.note(f"event {e.message!r} annotations {dict(e.annotations)}")
        t.expect('openat("/local/f"' in e.message and e.message.startswith("pledge: denied"),
                 f"event {e.message!r}: want the denied openat of /local/f")
        t.expect(e.annotations.get("type") == "pledge", f"annotations {dict(e.annotations)}: want type pledge")
    logged = [json.loads(x) for x in list(s.plugin.stderr_lines) if "needs cpath" in x]
    t.expect(any(x.get("@level") == "warn" and x.get("task_id") == run.id for x in logged),
             f"no warn line with the task_id in the plugin log: {logged}")
    open_gate(run)
    code = exit_of(s.wait(t, run))
    t.note(f"exit {code}")
    t.expect(len([e for e in denials(s, run) if "/local/f" in e.message]) == 1,
             f"the denial of /local/f is not exactly one event: {[e.message for e in denials(s, run)]}")
    s.finish(run)


def case_pledge_denial_flood_bounded(t, s):
    """10000 distinct denied calls: a bounded number of events, one summary of
    the suppressed ones, and the plugin's RSS stays put."""
    need(t, s)
    loop = 'i=0; while [ $i -lt 10000 ]; do true > /local/d$i; i=$((i+1)); done; echo looped'
    rss0 = rss_kb(s.plugin.pid)
    run = s.started(t, "pflood", SH, ["-c", loop], promises="stdio rpath")
    got = exit_of(s.wait(t, run, 120))
    t.expect(run.alloc.stdout.wait_for("looped"), f"loop did not finish: exit {got}")
    summary = wait_event(t, s, run, lambda e: "suppressed" in e.message, "summarising suppressed denials")
    rss1 = rss_kb(s.plugin.pid)
    n = len(denials(s, run))
    t.note(f"10000 denied calls: {n} events ({[e.message for e in summary]}); plugin RSS {rss0 / 1024:.1f} -> "
           f"{rss1 / 1024:.1f} MB")
    t.expect(n <= 12, f"{n} denial events for one task's flood (want at most 10 and the summaries)")
    t.expect(rss1 - rss0 <= 8192, f"plugin RSS grew {(rss1 - rss0) / 1024:.1f} MB over the flood")
    s.finish(run)


def case_pledge_denials_not_repeated_after_restart(t, s):
    """Plugin restart + RecoverTask: the denials already announced are not
    announced again; a new one after the restart is."""
    need(t, s)
    run = s.task(t, "prestart", SH, ["-c", f"{WRITE}; {GATE}; echo x > /local/after; {GATE}"],
                 promises="stdio rpath")
    gate(run)
    s.start(t, run)
    wait_event(t, s, run, lambda e: '"/local/f"' in e.message, "for /local/f before the restart")
    restart_plugin(t, s, [run])
    open_gate(run)
    wait_event(t, s, run, lambda e: '"/local/after"' in e.message, "for /local/after after the restart")
    again = [e.message for e in denials(s, run) if '"/local/f"' in e.message]
    t.expect(not again, f"the new plugin announced an old denial again: {again}")
    open_gate(run)
    s.wait(t, run)
    s.finish(run)


def case_pledge_learn_then_clean_rerun(t, s):
    """learn = true: a loud not-a-sandbox event at start, the config snippet at
    exit; the program rerun under the learned policy has no denial events."""
    need(t, s)
    body = f"{WRITE}; /bin/cat /local/f"
    run = s.started(t, "plearn", SH, ["-c", body], learn=True)
    loud = wait_event(t, s, run, lambda e: "NOT sandboxed" in e.message, "saying learn mode is no sandbox")
    t.note(f"start event {loud[0].message!r}" if loud else "no start event")
    t.expect(exit_of(s.wait(t, run))[:2] == (0, 0), "learn task failed")
    got = wait_event(t, s, run, lambda e: e.annotations.get("type") == "learned", "with the learned policy")
    t.require(got, "no learned policy")
    e = got[0]
    t.note(f"learned event {e.message!r}")
    t.expect("config {" in e.message and "promises = " in e.message, f"no config snippet in {e.message!r}")
    ann = json.loads(e.annotations["annotations"])
    promises = ann["sworn.pledge.promises"]
    unveil = json.loads(ann.get("sworn.unveil", "[]"))
    t.expect("cpath" in promises.split(), f"learned promises {promises!r}: want cpath (the write)")
    s.finish(run)
    rerun = s.started(t, "plearned", SH, ["-c", body], promises=promises, unveil=unveil or None)
    got = exit_of(s.wait(t, rerun))
    t.expect(got[:2] == (0, 0), f"rerun under the learned policy: exit {got}")
    t.expect(rerun.alloc.stdout.wait_for("hi"), f"rerun output {rerun.alloc.stdout.text()!r}")
    time.sleep(3)  # the driver reads a task's record for 2 s after its exit
    bad = [e.message for e in denials(s, rerun)]
    t.expect(not bad, f"denials under the learned policy: {bad}")
    s.finish(rerun)


CASES = [(n[len("case_"):], f) for n, f in list(globals().items()) if n.startswith("case_")]
