"""A run's own page (/run/<id>, the tab in the URL), and the links to it (issue 18).

The runs are those of ``conftest.fill``: 1-4 completed ``train`` runs recording a TensorFlow
log directory, 5 a FAILED one (before it records any), 6 an ``other`` run without one.
"""

from __future__ import annotations

import pytest

from sacred.store import open_store
from sacredboard.app import create_app
from tests.sacredboard import chromium
from tests.sacredboard.chromium import needs_chromium, screenshot  # noqa: F401
from tests.sacredboard.conftest import LiveServer

browser, page = chromium.browser, chromium.page  # the fixtures


def test_the_run_page_is_served_per_run_and_404_for_a_missing_run(client):
    ok = client.get("/run/3?tab=metrics")
    assert ok.status_code == 200
    assert b'data-run-id="3"' in ok.data and b"js/run.js" in ok.data
    missing = client.get("/run/999")
    assert missing.status_code == 404
    assert b'data-run-id="999"' in missing.data  # the page says so itself


def test_a_run_id_is_escaped_in_the_page(client):
    resp = client.get('/run/"><script>x</script>')
    assert resp.status_code == 404
    assert b"<script>x</script>" not in resp.data


@pytest.fixture
def server(filled_dir):
    live = LiveServer(create_app(open_store(filled_dir)))
    yield live
    live.stop()


def tabs(pg):
    return pg.locator("#run-detail .tabs button[data-tab]").evaluate_all(
        "bs => bs.map(b => b.dataset.tab)"
    )


@needs_chromium
def test_a_failed_run_opens_on_its_fail_trace_and_the_tab_is_in_the_url(page, server):
    page.goto(server.url + "/run/5")
    page.wait_for_selector("#run-detail .tabs button.active")
    assert page.get_attribute("#run-detail .tabs button.active", "data-tab") == "fail"
    assert "RuntimeError: diverged" in page.inner_text("#run-detail pre.output")
    assert page.url.endswith("/run/5?tab=fail")
    assert "tensorflow" not in tabs(page)  # it failed before recording a log directory
    assert "FAILED" in page.inner_text("#run-state")
    # another tab goes into the URL, and a reload opens it again
    page.click("#run-detail button[data-tab=config]")
    page.wait_for_url("**/run/5?tab=config")
    page.reload()
    page.wait_for_selector("#run-detail .tabs button.active")
    assert page.get_attribute("#run-detail .tabs button.active", "data-tab") == "config"
    assert "lr" in page.inner_text("#run-detail .tree")
    assert page.errors == []


@needs_chromium
def test_tensorflow_tab_only_for_runs_with_logs_and_a_shared_link_opens_its_tab(page, server):
    page.goto(server.url + "/run/1?tab=output")
    page.wait_for_selector("#run-detail pre.output")
    assert page.get_attribute("#run-detail .tabs button.active", "data-tab") == "output"
    assert "training with lr=0.1" in page.inner_text("#run-detail pre.output")
    assert "tensorflow" in tabs(page) and "fail" not in tabs(page)
    assert "train" in page.title()
    page.goto(server.url + "/run/6?tab=tensorflow")  # a tab the run has not: Config
    page.wait_for_selector("#run-detail .tabs button.active")
    assert "tensorflow" not in tabs(page)
    assert page.get_attribute("#run-detail .tabs button.active", "data-tab") == "config"
    page.goto(server.url + "/run/999")
    page.wait_for_selector("#run-detail .error")
    assert "999" in page.inner_text("#run-detail .error")


@needs_chromium
def test_the_table_compare_and_detail_link_to_the_run_page(page, server):
    page.goto(server.url + "/runs?sort=_id")
    page.wait_for_selector("#runs-body tr.run-row")
    # the inline detail of a failed run opens on its fail trace too, and links to its page
    page.click('tr[data-id="5"] td:nth-child(3)')
    page.wait_for_selector("tr.detail-row .tabs button.active")
    assert page.get_attribute("tr.detail-row .tabs button.active", "data-tab") == "fail"
    assert page.get_attribute("tr.detail-row a.run-link", "href").endswith("/run/5?tab=fail")
    # the id cell is a link to the page (it does not toggle the inline detail)
    page.click('tr[data-id="3"] a.run-link')
    page.wait_for_url("**/run/3")
    page.wait_for_selector("#run-detail .tabs")
    assert "Run 3" in page.inner_text("#run-title")
    page.goto(server.url + "/compare?ids=1,3")
    page.click("#compare-runs a.run-link:text-is('3')")
    page.wait_for_url("**/run/3")
    assert page.errors == []
