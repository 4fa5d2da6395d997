"""Waiting for an asynchronous state in tests, shared by both harnesses
(tests/harness/harness.py and tests/control/ftps_harness.py)."""

import time


def wait_for(predicate, timeout=10.0, interval=0.1):
    """Polls predicate until it returns something true or timeout passes;
    returns its last value (so a state that never arrives stays false and
    the caller's assertion fails)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
