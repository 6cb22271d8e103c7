"""Compare with a diverged run (issue 18): a log axis or robust (clipped) limits, chosen by
themselves or by hand, and no ``__doc__`` among the config keys that differ.

Runs: 1 and 2 converge (loss 2/(i+1), 40 steps), 3 diverges (its loss reaches 3e72 at the
last step) and was started with the named config ``fast``, whose docstring Sacred puts into
the config as ``__doc__``.
"""

from __future__ import annotations

import os

import pytest

from sacred import Experiment
from sacred.observers import FileStorageObserver
from sacred.store import open_store
from sacredboard.app import create_app
from tests.sacredboard import chromium
from tests.sacredboard.chromium import needs_chromium, screenshot
from tests.sacredboard.conftest import LiveServer

browser, page = chromium.browser, chromium.page  # the fixtures


def _fit():
    ex = Experiment("fit")

    @ex.config
    def cfg():
        lr = 0.1  # noqa: F841
        diverge = False  # noqa: F841

    @ex.named_config
    def fast():
        """Higher learning rate, fewer epochs."""
        lr = 5.0  # noqa: F841
        diverge = True  # noqa: F841

    @ex.main
    def main(_run, lr, diverge):
        loss = None
        for i in range(40):
            loss = 3.0 * 10 ** ((i - 30) * 8) if diverge and i > 30 else 2.0 / (i + 1) + lr / 100
            _run.log_scalar("loss", loss, i)
        return loss

    return ex


@pytest.fixture(scope="module")
def diverged_dir(tmp_path_factory):
    basedir = str(tmp_path_factory.mktemp("diverged") / "runs")
    cwd = os.getcwd()
    os.chdir(os.path.dirname(basedir))
    try:
        for named, updates in (([], {}), ([], {"lr": 0.2}), (["fast"], {})):
            ex = _fit()
            ex.observers.append(FileStorageObserver(basedir))
            ex.run(named_configs=named, config_updates=updates, options={"--capture": "sys"})
    finally:
        os.chdir(cwd)
    return basedir


def test_config_diff_hides_the_docstring_which_stays_in_the_config(diverged_dir):
    client = create_app(diverged_dir).test_client()
    data = client.get("/api/compare?ids=1,2,3").get_json()
    assert [row["key"] for row in data["config_diff"]] == ["diverge", "lr", "seed"]
    config = client.get("/api/run/3").get_json()["data"][0]["object"]["config"]
    assert config["__doc__"] == "Higher learning rate, fewer epochs."


@pytest.fixture
def server(diverged_dir):
    live = LiveServer(create_app(open_store(diverged_dir)))
    yield live
    live.stop()


def y_scale(pg):
    return pg.evaluate(
        "() => { const p = document.getElementById('compare-plot')._plot;"
        " return {min: p.scales.y.min, max: p.scales.y.max, distr: p.scales.y.distr,"
        " clipped: p.clippedPoints, series: p.series.map(s => s.label)}; }"
    )


@needs_chromium
def test_a_diverged_run_gets_robust_limits_with_its_points_marked(page, server):
    page.goto(server.url + "/compare?ids=1,2,3")
    page.wait_for_selector("#compare-plot canvas")
    page.wait_for_selector("#config-diff-table")
    keys = page.locator("#config-diff-table tbody td:first-child").all_inner_texts()
    assert keys == ["diverge", "lr", "seed"]
    # auto: 73 decades are too many for a log axis, so robust limits
    note = page.inner_text("#compare-y-note")
    assert note.startswith("→ robust") and "points beyond the axis" in note
    scale = y_scale(page)
    assert scale["distr"] == 1 and scale["max"] < 10  # the converging curves stay readable
    assert scale["clipped"] == 9  # steps 31-39 of run 3 (3e8 to 3e72)
    assert "run 3 beyond the axis" in scale["series"]
    screenshot(page, "compare_robust_axis.png")
    # linear shows all of it (and short tick labels), log too; the choice is in the URL
    plot = "document.getElementById('compare-plot')._plot"
    page.select_option("#compare-y", "linear")
    page.wait_for_url("**y=linear*")
    page.wait_for_function(f"{plot}.scales.y.max >= 3e72")
    page.select_option("#compare-y", "log")
    page.wait_for_url("**y=log*")
    page.wait_for_function(f"{plot}.scales.y.distr === 3")
    scale = y_scale(page)
    assert scale["distr"] == 3 and scale["max"] >= 3e72 and scale["min"] <= 0.06
    screenshot(page, "compare_log_axis.png")
    page.reload()
    page.wait_for_selector("#compare-plot canvas")
    assert page.input_value("#compare-y") == "log"
    assert page.errors == []


@needs_chromium
def test_auto_picks_a_log_axis_for_values_spanning_a_few_decades(page, server):
    page.goto(server.url + "/compare?ids=1,2")
    page.wait_for_selector("#compare-plot canvas")
    # 2.001 .. 0.051: under two decades, nothing far out: linear
    assert page.inner_text("#compare-y-note") == "→ linear"
    choices = page.evaluate(
        "() => [[1000, 100, 10, 1, 0.5], [0.1, 0.5, 0.9, 0.95], [-1, 0, 1, 2, 1, 0, 500],"
        " [1, 2, 3, 2, 1, 3, 1e40]].map(v => SBPlot.chooseY(v).mode)"
    )
    assert choices == ["log", "linear", "robust", "robust"]
