"""The conformance suite: one set of scenarios, run against every backend.

Each scenario is a test function parametrised with ``kinds(...)`` (see backends.py): every
kind is a test id. Where a backend answers differently, the difference and its reason are
written down as a strict xfail of that kind, so a fix makes the suite say so.
"""

import pytest

pytest.register_assert_rewrite("tests.conformance.experiments")

from tests.conformance.backends import Backend  # noqa: E402 (after the rewrite hook)


@pytest.fixture
def backend(kind, tmp_path, monkeypatch):
    """A fresh store of ``kind``; the test runs in its folder (failure files land there)."""
    monkeypatch.chdir(tmp_path)
    return Backend(kind, tmp_path / kind)


def _remove(backends):
    for made in backends:
        made.remove()


@pytest.fixture(autouse=True)
def _remove_backends():
    """Databases, buckets and mongomock clients go when their test ends (those kept for a
    module, ``keep`` set, when the session ends)."""
    yield
    _remove([b for b in Backend.made if not b.keep])
    Backend.made[:] = [b for b in Backend.made if b.keep]


@pytest.fixture(scope="session", autouse=True)
def _remove_kept_backends():
    yield
    _remove(Backend.made)
    Backend.made.clear()
