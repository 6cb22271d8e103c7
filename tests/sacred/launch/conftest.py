"""The launcher tests send SIGINT/SIGTERM to runs in other processes (a sweep's pool, a
submitit job, a Ray task), which inherit the test process's signal state: a runner that
starts pytest in the background ignores SIGINT, and a blocked signal stays blocked across
exec. Give them the state of a terminal, and say so when it was not."""

import signal
import warnings

import pytest


def _terminal_like_signals() -> list:
    changed = []
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    for sig in (signal.SIGINT, signal.SIGTERM):
        if sig in blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
            changed.append(f"{sig.name} was blocked")
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        changed.append("SIGINT was ignored")
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        changed.append("SIGTERM was ignored")
    return changed


@pytest.fixture(scope="session", autouse=True)
def _signals_at_start():
    changed = _terminal_like_signals()
    if changed:
        warnings.warn(f"launcher tests: {', '.join(changed)} in the test process", stacklevel=1)


@pytest.fixture(autouse=True)
def _signals_per_test():
    changed = _terminal_like_signals()
    if changed:
        warnings.warn(f"launcher tests: {', '.join(changed)} before this test", stacklevel=1)
