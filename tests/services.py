"""Finding the real services the tests talk to (started by scripts/services.sh)."""

import os

import pytest


def service_url(env_var):
    """The URL of a running service, from ``env_var``.

    Without it the test is skipped when run by hand, but fails when the suite runs
    through scripts/test.sh (which sets SACRED_REQUIRE_SERVICES=1 after starting
    every service), so CI never silently skips a backend.
    """
    url = os.environ.get(env_var)
    if url:
        return url
    message = f"{env_var} is not set: start the services with scripts/services.sh"
    if os.environ.get("SACRED_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)
