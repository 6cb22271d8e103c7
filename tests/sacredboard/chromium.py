"""Headless Chromium (Debian's) for the page tests, driven by Playwright, and screenshots.

Import the fixtures into a test module: ``from tests.sacredboard.chromium import browser, page``.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.sacredboard.conftest import ARTIFACTS_DIR

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# scripts/test.sh installs chromium and sets SACRED_REQUIRE_SERVICES=1: there a missing
# browser fails the tests instead of skipping them
needs_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("SACRED_REQUIRE_SERVICES") != "1",
    reason="needs Debian's chromium (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A page 1,400 px wide; ``page.errors`` collects the script errors it raised."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    context.close()


def screenshot(page, name, full_page=True):
    """Saved into tests/sacredboard/artifacts/ (and /tmp/shots/ when it exists)."""
    os.makedirs(ARTIFACTS_DIR, exist_ok=True)
    path = os.path.join(ARTIFACTS_DIR, name)
    page.screenshot(path=path, full_page=full_page)
    assert os.path.getsize(path) > 1000
    if os.path.isdir("/tmp/shots"):
        shutil.copy(path, os.path.join("/tmp/shots", name))
    return path
