"""The pages in headless Chromium (Debian's), driven by Playwright, against a real server."""

import os
import shutil
import sys

import pytest
from playwright.sync_api import expect, sync_playwright

from sacred.store import open_store
from sacredboard import tensorboard
from sacredboard.app import create_app
from tests.sacredboard.conftest import ARTIFACTS_DIR, LiveServer

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
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and os.environ.get("SACRED_REQUIRE_SERVICES") != "1",
    reason="needs Debian's chromium (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def server(fresh_dir):
    live = LiveServer(create_app(open_store(fresh_dir)))
    yield live
    live.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    context.close()


def screenshot(page, tmp_path, name):
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    os.makedirs(ARTIFACTS_DIR, exist_ok=True)
    shutil.copy(path, os.path.join(ARTIFACTS_DIR, name))
    assert path.stat().st_size > 1000
    return path


def row_ids(page):
    return page.locator("#runs-body tr.run-row").evaluate_all("rows => rows.map(r => r.dataset.id)")


def test_table_filter_detail_and_plot(page, server, tmp_path):
    page.goto(server.url + "/runs")
    page.wait_for_selector("#runs-body tr.run-row")
    assert row_ids(page)[:2] == ["7", "6"]
    assert "8 of 8 runs" in page.inner_text("#page-info")
    # status colours: the stale run is "probably dead"
    assert page.locator('tr[data-id="8"] .glyph.st-PROBABLY_DEAD').count() == 1
    assert page.locator('tr[data-id="7"] .glyph.st-RUNNING').count() == 1
    assert "120" in page.input_value("#dead-after")

    # property filter config.x >= 300, as typed in the builder
    page.fill("#filter-field", "x")
    page.select_option("#filter-op", ">=")
    page.fill("#filter-value", "300")
    assert page.inner_text("#field-prefix") == "config."
    page.click("#filter-add")
    expect(page.locator("#runs-body tr.run-row")).to_have_count(2)
    assert sorted(row_ids(page)) == ["3", "4"]
    assert "filters=" in page.url  # the filter is in the shareable URL
    # an invalid value disables the button
    page.fill("#filter-field", ".experiment.name")
    page.fill("#filter-value", "bare words")
    assert page.is_disabled("#filter-add")
    assert page.inner_text("#field-prefix") == ""

    # open run 3 and see its metric plot drawn
    page.click('tr[data-id="3"] td:nth-child(3)')
    page.wait_for_selector("tr.detail-row .tabs")
    page.click("tr.detail-row button[data-tab=metrics]")
    canvas = page.wait_for_selector("tr.detail-row .metric-plot canvas")
    box = canvas.bounding_box()
    assert box["width"] > 100 and box["height"] > 100
    screenshot(page, tmp_path, "runs_table_detail.png")
    assert page.errors == []


def test_output_is_text_and_shared_url_restores_state(page, server):
    url = (
        server.url + "/runs?status=COMPLETED&cols=config.lr,metrics.loss.min&sort=metrics.loss.min"
    )
    page.goto(url)
    page.wait_for_selector("#runs-body tr.run-row")
    assert row_ids(page) == ["6", "1", "2", "3", "4"]  # a missing value sorts first
    assert page.is_checked("#status-filter input[value=COMPLETED]")
    assert not page.is_checked("#status-filter input[value=FAILED]")
    headers = page.locator("#runs-head th").all_inner_texts()
    assert "config.lr" in headers and any("metrics.loss.min" in h for h in headers)
    page.click('tr[data-id="1"] td:nth-child(3)')
    page.click("tr.detail-row button[data-tab=output]")
    pre = page.wait_for_selector("tr.detail-row pre.output")
    assert "<script>window.__pwned = 1</script>" in pre.inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("tr.detail-row pre.output b").count() == 0
    page.click("tr.detail-row button[data-tab=config]")
    assert "lr" in page.inner_text("tr.detail-row .tree")
    assert page.errors == []


def test_config_columns_and_sorting_by_them(page, server):
    page.goto(server.url + "/runs?status=COMPLETED")
    page.wait_for_selector("#runs-body tr.run-row")
    page.click("#column-config")
    page.wait_for_url("**cols=*")  # the chosen columns (the default ones show config.lr too)
    expect(page.locator("#runs-head th[data-col='config.lr']")).to_have_count(1)
    assert "config.x" in page.url
    page.click("#runs-head th[data-col='config.x']")
    expect(page.locator("#runs-head th[data-col='config.x']")).to_have_class("sorted-asc")
    expect(page.locator("#runs-body tr.run-row").first).to_have_attribute("data-id", "6")
    page.fill("#column-path", "metrics.loss.min")
    page.click("#column-add")
    cell = page.locator('tr[data-id="1"] td').last
    expect(cell).to_have_text("0.25")


def test_text_query_and_export_link(page, server):
    page.goto(server.url + "/runs")
    page.wait_for_selector("#runs-body tr.run-row")
    page.fill("#query", 'experiment.name == "other"')
    page.click("#query-apply")
    expect(page.locator("#runs-body tr.run-row")).to_have_count(1)
    assert row_ids(page) == ["6"]
    href = page.get_attribute("#export-csv", "href")
    assert "format=csv" in href and "q=experiment.name" in href
    page.fill("#query", "lr >>> 1")
    page.click("#query-apply")
    expect(page.locator("#query-error")).to_contain_text("expected")


def test_compare_two_runs(page, server, tmp_path):
    page.goto(server.url + "/runs?sort=_id")
    page.wait_for_selector("#runs-body tr.run-row")
    page.check('tr[data-id="1"] input[type=checkbox]')
    page.check('tr[data-id="3"] input[type=checkbox]')
    page.click("#compare-selected")
    page.wait_for_url("**/compare?ids=*")
    canvas = page.wait_for_selector("#compare-plot canvas")
    assert canvas.bounding_box()["width"] > 100
    page.wait_for_selector("#config-diff-table")
    keys = page.locator("#config-diff-table tbody td.mono:first-child").all_inner_texts()
    assert {"lr", "x", "scale"} <= set(keys)
    # two runs: the output diff is shown side by side
    page.wait_for_selector("#diff-view .diff")
    assert "training with lr=0.01" in page.inner_text("#diff-view")
    page.fill("#compare-smooth", "0.6")
    page.dispatch_event("#compare-smooth", "input")
    expect(page.locator("#compare-plot")).to_contain_text("run 1 (raw)")
    screenshot(page, tmp_path, "compare.png")
    assert page.errors == []


def test_analysis_and_seed_bands(page, server, tmp_path):
    page.goto(server.url + "/analysis?status=COMPLETED")
    page.wait_for_selector("#groups-body tr")
    assert page.locator("#groups-body tr").count() == 3
    drawn = page.evaluate(
        "() => { const c = document.getElementById('parallel');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"
    )
    assert drawn > 500
    screenshot(page, tmp_path, "analysis.png")
    page.goto(server.url + "/compare?ids=1,2&bands=1")
    page.wait_for_selector("#compare-plot canvas")
    assert "mean (2 runs)" in page.inner_text("#compare-plot")
    assert page.errors == []


def test_delete_from_the_detail_view(page, server):
    page.goto(server.url + "/runs?sort=_id")
    page.wait_for_selector("#runs-body tr.run-row")
    page.click('tr[data-id="4"] td:nth-child(3)')
    page.wait_for_selector("tr.detail-row .tabs")
    page.on("dialog", lambda d: d.accept())
    page.click("tr.detail-row button.danger")
    page.wait_for_selector('tr[data-id="4"]', state="detached")
    page.wait_for_selector("#toast:not([hidden])")
    assert "DELETED run 4" in page.inner_text("#toast")


def test_status_filter_auto_refresh_and_live_output(page, server, fresh_dir):
    page.goto(server.url + "/runs?sort=_id")
    page.wait_for_selector("#runs-body tr.run-row")
    page.uncheck("#status-filter input[value=COMPLETED]")
    expect(page.locator("#runs-body tr.run-row")).to_have_count(3)
    assert row_ids(page) == ["5", "7", "8"]
    assert "status=" in page.url
    # live tail of the running run's output
    page.click('tr[data-id="7"] td:nth-child(3)')
    page.click("tr.detail-row button[data-tab=output]")
    page.wait_for_selector("tr.detail-row pre.output")
    with open(os.path.join(fresh_dir, "7", "cout.txt"), "a") as f:
        f.write("step 2 arrived\n")
    expect(page.locator("tr.detail-row pre.output")).to_contain_text(
        "step 2 arrived", timeout=10000
    )
    # auto-refresh picks up a new run and keeps the open detail row
    page.fill("#refresh-every", "2")
    page.check("#auto-refresh")
    store = open_store(fresh_dir)
    record = {k: v for k, v in store.get(5).items() if k not in ("_id", "artifacts")}
    new_id = store.import_run(record)
    page.wait_for_selector(f'tr[data-id="{new_id}"]', timeout=10000)
    assert page.locator('tr.detail-row[data-detail="7"]').count() == 1
    assert "refresh=2" in page.url


def test_tags_and_notes_from_the_page(page, server):
    page.goto(server.url + "/runs?sort=_id")
    page.wait_for_selector("#runs-body tr.run-row")
    page.click('tr[data-id="2"] td:nth-child(3)')
    page.click("tr.detail-row button[data-tab=notes]")
    page.fill("tr.detail-row .notes input", "baseline, <img src=x onerror=alert(1)>")
    page.fill("tr.detail-row .notes textarea", "<script>window.__pwned=2</script>")
    page.click("tr.detail-row .notes button")
    expect(page.locator("tr.detail-row .notes")).to_contain_text("Saved.")
    page.click("#refresh")
    expect(page.locator('tr[data-id="2"]')).to_contain_text("baseline")
    assert page.locator('tr[data-id="2"] img').count() == 0
    assert page.evaluate("window.__pwned") is None


def test_search_space_page(page, labwatch_dir, tmp_path):
    live = LiveServer(create_app(labwatch_dir))
    try:
        page.goto(live.url + "/search_spaces")
        page.click("#spaces a")
        page.wait_for_selector("#space-curve canvas")
        expect(page.locator("#space-summary")).to_contain_text("COMPLETED: 3")
        expect(page.locator("#space-definition")).to_contain_text("UniformFloat")
        assert page.locator("#space-top tbody tr").count() == 3
        screenshot(page, tmp_path, "search_space.png")
        assert page.errors == []
    finally:
        live.stop()


def _serving_tensorboard(tmp_path):
    """A stand-in for ``tensorboard``: serves a page on a free port and prints the banner."""
    script = tmp_path / "fake_tensorboard"
    script.write_text(
        f"#!{sys.executable}\n"
        "import http.server, sys\n"
        "host = sys.argv[sys.argv.index('--host') + 1]\n"
        "class Page(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200)\n"
        "        self.send_header('Content-Type', 'text/html')\n"
        "        self.end_headers()\n"
        "        self.wfile.write(b'<title>fake</title><p>fake tensorboard</p>')\n"
        "    def log_message(self, *args):\n"
        "        pass\n"
        "server = http.server.HTTPServer((host, 0), Page)\n"
        "sys.stderr.write(f'TensorBoard 2.16 at http://{host}:{server.server_port}/\\n')\n"
        "sys.stderr.flush()\n"
        "server.serve_forever()\n"
    )
    script.chmod(0o755)
    return str(script)


def test_tensorboard_buttons_post_from_the_run_page(page, server, tmp_path, monkeypatch):
    """Run 1 records a log directory: its button starts TensorBoard (a same-origin POST
    the write guard lets through) and opens it in a new tab; "Stop" stops it."""
    monkeypatch.setattr(tensorboard, "TENSORBOARD_BINARY", _serving_tensorboard(tmp_path))
    try:
        page.goto(server.url + "/runs?sort=_id")
        page.wait_for_selector("#runs-body tr.run-row")
        page.click('tr[data-id="1"] td:nth-child(3)')
        page.click("tr.detail-row button[data-tab=tensorflow]")
        with page.context.expect_page() as opened:
            page.click("tr.detail-row form button:text('Run Tensorboard')")
        board = opened.value
        expect(board.locator("p")).to_have_text("fake tensorboard")
        assert len(tensorboard._running) == 1
        with page.context.expect_page() as opened:
            page.click("tr.detail-row form button:text('Stop all TensorBoards')")
        expect(opened.value.locator("body")).to_contain_text("Stopping tensorboard")
        assert tensorboard._running == []
        assert page.errors == []
    finally:
        tensorboard.stop_all()


def test_long_output_shows_its_end_and_earlier_pages_on_request(page, server, fresh_dir):
    lines = [f"line {i:07d}\n" for i in range(200_000)]  # 2.8 MB, more than the detail's tail
    with open(os.path.join(fresh_dir, "7", "cout.txt"), "w") as f:
        f.writelines(lines)
    page.goto(server.url + "/runs?sort=_id")
    page.wait_for_selector("#runs-body tr.run-row")
    page.click('tr[data-id="7"] td:nth-child(3)')
    page.click("tr.detail-row button[data-tab=output]")
    pre = page.locator("tr.detail-row pre.output")
    expect(pre).to_contain_text("line 0199999")
    assert "line 0000000" not in pre.inner_text()
    expect(page.locator("tr.detail-row")).to_contain_text("characters are not shown")
    for _ in range(3):  # 1 MiB a click
        page.click("tr.detail-row button:has-text('Show earlier output')")
        page.wait_for_timeout(300)
    expect(pre).to_contain_text("line 0000000")
    assert pre.inner_text() == "".join(lines)
    assert page.locator("tr.detail-row button:has-text('Show earlier output')").count() == 0
    assert page.errors == []
