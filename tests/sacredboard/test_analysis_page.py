"""The analysis page's defaults and width, and seed groups as key=value pairs (issue 18).

Runs of ``conftest.fill``: 1-4 completed ``train`` runs with a number as result and the
metrics loss and acc, 5 failed (both metrics, no result), 6 ``other`` (result "ok", no
metrics), 7 and 8 running copies without metrics.
"""

from __future__ import annotations

import pytest

from sacred.store import open_store
from sacredboard.app import create_app
from tests.sacredboard import chromium
from tests.sacredboard.chromium import needs_chromium, screenshot
from tests.sacredboard.conftest import LiveServer

browser, page = chromium.browser, chromium.page  # the fixtures


def test_default_fields_are_those_most_runs_have(client):
    data = client.get("/api/points?defaults=1").get_json()
    # config values that differ (most present first), the metric most runs logged (acc and
    # loss: 5 runs each, so by name), and the result, a number in 4 runs of 8
    assert data["fields"] == [
        "config.x",
        "config.lr",
        "config.fail",
        "config.scale",
        "metrics.acc.last",
        "result",
    ]
    assert data["scatter"] == ["config.x", "result"]
    assert data["columns"]["result"][:4] == [0.25, 0.3, 0.5, 0.6]
    assert data["columns"]["metrics.acc.last"][:5] == pytest.approx([0.8, 0.8, 0.8, 0.8, 0.6])
    completed = client.get("/api/points?defaults=1&status=COMPLETED").get_json()
    assert completed["fields"] == [
        "config.x",
        "config.lr",
        "config.scale",
        "metrics.acc.last",
        "result",
    ]
    other = client.get('/api/points?defaults=1&q=experiment.name == "other"').get_json()
    assert other["fields"] == [] and other["scatter"] is None  # one run: nothing differs
    # without defaults=1 the answer is as before: the config values that differ
    plain = client.get("/api/points?status=COMPLETED").get_json()
    assert plain["fields"] == ["config.lr", "config.scale", "config.x"] and "scatter" not in plain


@pytest.fixture
def server(filled_dir):
    live = LiveServer(create_app(open_store(filled_dir)))
    yield live
    live.stop()


@needs_chromium
def test_the_analysis_page_scatters_by_default_and_fits_the_window(page, server):
    page.goto(server.url + "/analysis")
    page.wait_for_selector("#groups-body tr")
    assert page.input_value("#analysis-fields").endswith("metrics.acc.last,result")
    assert page.input_value("#scatter-x") == "config.x"
    assert page.input_value("#scatter-y") == "result"
    # runs 1-4 have both a config.x and a result
    assert page.evaluate("document.getElementById('scatter')._points.length") == 4
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    # seed groups as key=value pairs, the values that differ first, no JSON
    first = page.locator("#groups-body tr").first.locator(".group-config")
    assert first.inner_text().split() == [
        "fail=false",
        "lr=0.1",
        "scale=1",
        "x=250",
        "layers=[8,4]",
    ]
    assert first.locator(".kv.differs").count() == 4  # layers is the same in every group
    assert '"lr":0.1' in first.get_attribute("title")
    assert "{" not in page.inner_text("#groups-body")
    screenshot(page, "analysis_defaults.png")
    assert page.errors == []


@needs_chromium
def test_the_grouped_table_shows_key_value_pairs(page, server):
    page.goto(server.url + "/runs?group=1&status=COMPLETED")
    page.wait_for_selector("#runs-body tr.group-row .group-config")
    labels = page.locator("#runs-body .group-config").all_inner_texts()
    assert sorted(label.split()[0] for label in labels) == ["lr=0.01", "lr=0.1", "x=2"]
    assert "{" not in page.inner_text("#runs-body")
    screenshot(page, "runs_grouped.png")
    assert page.errors == []
