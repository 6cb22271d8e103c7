"""The run page over a MongoDB in the original's layout (issue 12, items 14-17), in Chromium.

The page reads the original's shapes: the run in ``data[0].object`` with ``{"$date": ms}``
dates and ``{"$oid": ...}`` ids, GridFS file ids, metrics by the ids of ``info.metrics``.
"""

import pytest
from playwright.sync_api import expect

from sacred.store import open_store
from sacredboard.app import create_app
from tests.sacredboard.conftest import LiveServer
from tests.sacredboard.test_browser import browser, page, pytestmark  # noqa: F401
from tests.sacredboard.test_original_api import original_db  # noqa: F401


@pytest.fixture
def mongo_server(original_db):  # noqa: F811
    db, ids = original_db
    live = LiveServer(create_app(open_store(db.client, db_name="sacred")))
    live.ids = ids
    yield live
    live.stop()


def test_run_page_over_the_original_layout(page, mongo_server):  # noqa: F811
    page.goto(mongo_server.url + "/runs?sort=_id")
    page.wait_for_selector("#runs-body tr.run-row")
    assert "4 of 4 runs" in page.inner_text("#page-info")
    row = page.locator('tr[data-id="14"]')
    start = row.locator("td").nth(4).inner_text()
    assert "2017" in start  # the ISO time, formatted by the browser
    assert row.locator("td").nth(8).inner_text() == "0.5"
    assert page.locator('tr[data-id="16"] td').nth(8).inner_text() == ""  # no result
    page.click('tr[data-id="14"] td:nth-child(3)')
    page.wait_for_selector("tr.detail-row .tabs")
    expect(page.locator("tr.detail-row .tree")).to_contain_text("lr")
    # ids of the experiment's sources show as their hex text
    page.click("tr.detail-row button[data-tab=experiment]")
    pane = page.locator("tr.detail-row .pane")
    assert mongo_server.ids["source"] in pane.text_content()
    assert "$oid" not in pane.text_content()
    # artifacts download by their GridFS id
    page.click("tr.detail-row button[data-tab=artifacts]")
    link = page.locator("tr.detail-row a", has_text="DOWNLOAD").first
    assert link.get_attribute("href").endswith("/api/file/" + mongo_server.ids["artifact"])
    # the metric plot is drawn
    page.click("tr.detail-row button[data-tab=metrics]")
    canvas = page.wait_for_selector("tr.detail-row .metric-plot canvas")
    assert canvas.bounding_box()["width"] > 100
    assert page.errors == []
