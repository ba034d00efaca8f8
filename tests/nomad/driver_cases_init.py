"""sworn-init scenarios for test_driver.py (issue #10 item 5): a task in its own
pid namespace gets a minimal PID 1 that forwards signals, so StopTask with the
job's kill_signal ends a handler-less program at once with that signal's exit
status, and SignalTask reaches it; `init = false` shows what it replaces."""
import time

import nomadlib as nl
from driver_cases import need


def stop_time(t, s, run, signal, kill_timeout):
    t.require(nl.wait_until(lambda: nl.alloc_pids(run.alloc.id), 5), "task did not start")
    start = time.monotonic()
    t.rpc_ok(lambda: s.client.stop_task(run.id, kill_timeout, signal), f"StopTask {signal}")
    took = time.monotonic() - start
    resp = s.wait(t, run, timeout=10)
    return took, (resp.result.exit_code, resp.result.signal)


def case_init_stop_handlerless_program(t, s):
    need(t, s)
    run = s.started(t, "sleep-init", "/bin/sleep", ["100"])
    took, got = stop_time(t, s, run, "SIGTERM", 5)
    t.expect(took < 2.5, f"StopTask SIGTERM of a handler-less sleep under sworn-init took {took:.2f}s (kill_timeout 5)")
    t.expect(got[0] == 128 + 15, f"exit after SIGTERM through sworn-init: {got}, want 143")
    t.note(f"StopTask SIGTERM, handler-less sleep, sworn-init: {took:.2f}s, exit {got}")
    s.finish(run)
    run = s.started(t, "sleep-noinit", "/bin/sleep", ["100"], init=False)
    took, got = stop_time(t, s, run, "SIGTERM", 2)
    t.expect(took >= 1.8, f"control (init = false): StopTask returned after {took:.2f}s, want the 2s kill_timeout")
    t.expect(got == (137, 9), f"control (init = false): {got}, want SIGKILL after the timeout")
    t.note(f"StopTask SIGTERM, handler-less sleep, init = false: {took:.2f}s (kill_timeout 2s), exit {got}")
    s.finish(run)


def case_init_signal_task_reaches_program(t, s):
    need(t, s)
    run = s.started(t, "hup-init", "/bin/sh", ["-c", "trap 'echo got-hup' HUP; echo ready; "
                                                    "while :; do /bin/sleep 0.2; done"])
    t.require(run.alloc.stdout.wait_for("ready"), "task did not start")
    t.rpc_ok(lambda: s.client.signal_task(run.id, "SIGHUP"), "SignalTask SIGHUP")
    t.expect(run.alloc.stdout.wait_for("got-hup", 5), f"no trap output: {run.alloc.stdout.text()!r}")
    s.finish(run)


CASES = [(n[len("case_"):], f) for n, f in list(globals().items()) if n.startswith("case_")]
