"""What the Python test suites share: a case's verdicts (fail, expect,
require, note) and the PASS/FAIL/SKIP report of one case.  Used by
tests/integration (itlib.Case) and tests/nomad (test_driver.Case)."""


class Abort(Exception):
    """An essential step of a case failed; the failure is already recorded."""


class Verdicts:
    def __init__(self, name):
        self.name, self.failures, self.notes = name, [], []

    def fail(self, msg):
        self.failures.append(msg)

    def expect(self, cond, msg):
        if not cond:
            self.fail(msg)
        return bool(cond)

    def require(self, cond, msg):
        if not cond:
            self.fail(msg)
            raise Abort()
        return cond

    def note(self, msg):
        self.notes.append(msg)


def report(t, took, skipped=None):
    """Prints one case's outcome and details; returns "PASS", "FAIL" or "SKIP"."""
    outcome = "FAIL" if t.failures else "SKIP" if skipped else "PASS"
    print(f"{outcome} {t.name} ({took:.1f}s)" + (f": {skipped}" if skipped else ""), flush=True)
    for msg in t.failures:
        print("    - " + msg.replace("\n", "\n      "), flush=True)
    for msg in t.notes:
        print("    note: " + msg, flush=True)
    return outcome
