"""The run table's default columns and short numbers (issue 18).

Without chosen columns the table shows the config values that differ between the listed
runs (up to four: those most runs have first), plus the result; the column picker still
works and a chosen set of columns (even none) is kept in the URL.
"""

from __future__ import annotations

from sacred.store import open_store
from sacredboard.app import create_app
from tests.sacredboard import chromium
from tests.sacredboard.chromium import needs_chromium, screenshot
from tests.sacredboard.conftest import LiveServer

browser, page = chromium.browser, chromium.page  # the fixtures


def test_default_columns_are_the_config_values_that_differ(client):
    data = client.get("/api/run?auto_cols=1&sort=_id").get_json()
    # x: all 8 runs (3 values); lr, fail, scale: 7 runs, lr with 5 values; never the seed
    assert data["auto_cols"] == ["config.x", "config.lr", "config.fail", "config.scale"]
    first = data["data"][0]
    assert first["id"] == "1"
    assert first["columns"] == {
        "config.x": 250,
        "config.lr": 0.1,
        "config.fail": False,
        "config.scale": 1.0,
    }


def test_default_columns_follow_the_filters(client):
    completed = client.get("/api/run?auto_cols=1&status=COMPLETED").get_json()
    assert completed["auto_cols"] == ["config.x", "config.lr", "config.scale"]  # fail: all False
    one = client.get('/api/run?auto_cols=1&q=experiment.name == "other"').get_json()
    assert one["auto_cols"] == [] and len(one["data"]) == 1
    chosen = client.get("/api/run?auto_cols=1&cols=metrics.loss.min").get_json()
    assert "auto_cols" not in chosen  # chosen columns win
    assert "metrics.loss.min" in chosen["data"][0]["columns"]
    plain = client.get("/api/run").get_json()  # the original's protocol: no columns
    assert "auto_cols" not in plain and "columns" not in plain["data"][0]


def test_a_config_key_that_cannot_be_a_column_is_left_out(fresh_dir):
    store = open_store(fresh_dir)
    template = {k: v for k, v in store.get(6).items() if k not in ("_id", "artifacts")}
    for value in (1, 2):
        store.import_run(dict(template, config={"x": 2, "a,b": value, "c": {"": value}}))
    client = create_app(store).test_client()
    resp = client.get('/api/run?auto_cols=1&q=experiment.name == "other"')
    assert resp.status_code == 200
    assert resp.get_json()["auto_cols"] == []


@needs_chromium
def test_the_table_shows_the_default_columns_and_keeps_a_choice_in_the_url(page, filled_dir):
    from playwright.sync_api import expect

    live = LiveServer(create_app(open_store(filled_dir)))
    try:
        page.goto(live.url + "/runs?sort=_id")
        page.wait_for_selector("#runs-head th[data-col='config.lr']")
        heads = page.locator("#runs-head th").evaluate_all("ths => ths.map(t => t.dataset.col)")
        assert heads[-4:] == ["config.x", "config.lr", "config.fail", "config.scale"]
        assert "result" in heads
        assert "cols=" not in page.url
        assert page.locator('tr[data-id="3"] td').nth(heads.index("config.x")).inner_text() == (
            "300"
        )
        screenshot(page, "runs_default_columns.png")
        # removing a default column makes the choice explicit, in the URL
        page.click("#column-chips .chip:has-text('config.fail') a")
        page.wait_for_url("**cols=config.x%2Cconfig.lr%2Cconfig.scale*")
        expect(page.locator("#runs-head th[data-col='config.fail']")).to_have_count(0)
        page.reload()
        page.wait_for_selector("#runs-head th[data-col='config.lr']")
        assert page.locator("#runs-head th[data-col='config.fail']").count() == 0
        # filters change the default columns
        page.goto(live.url + "/runs?status=COMPLETED")
        page.wait_for_selector("#runs-head th[data-col='config.scale']")
        assert page.locator("#runs-head th[data-col='config.fail']").count() == 0
        assert page.errors == []
    finally:
        live.stop()


@needs_chromium
def test_numbers_are_short_in_tables_with_the_whole_value_on_hover(page, fresh_dir):
    store = open_store(fresh_dir)
    template = {k: v for k, v in store.get(6).items() if k not in ("_id", "artifacts")}
    big = store.import_run(dict(template, result=8.628492814753121e73))
    small = store.import_run(dict(template, result=0.0600913))
    live = LiveServer(create_app(store))
    try:
        page.goto(live.url + "/runs?sort=_id&cols=")
        page.wait_for_selector(f'tr[data-id="{small}"]')
        heads = page.locator("#runs-head th").evaluate_all("ths => ths.map(t => t.dataset.col)")
        cell = page.locator(f'tr[data-id="{big}"] td').nth(heads.index("result"))
        assert cell.inner_text() == "8.63e+73"
        assert cell.get_attribute("title") == "8.628492814753121e+73"
        cell = page.locator(f'tr[data-id="{small}"] td').nth(heads.index("result"))
        assert cell.inner_text() == "0.06009"
        assert cell.get_attribute("title") == "0.0600913"
        # compare's table too
        page.goto(live.url + f"/compare?ids={big},{small}")
        page.wait_for_selector("#compare-runs td[title='8.628492814753121e+73']")
        assert "8.63e+73" in page.inner_text("#compare-runs")
        assert page.errors == []
    finally:
        live.stop()
