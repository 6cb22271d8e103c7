"""The search-space pages over runs a real Labwatch LabAssistant made."""

import os
import runpy

import pytest

from labwatch import LabAssistant
from labwatch.hyperparameters import UniformFloat, UniformInt
from labwatch.optimizers import RandomSearch
from sacred import Experiment
from sacred.observers import FileStorageObserver
from sacred.store import open_store
from sacredboard.app import create_app


def costs(store):
    out = {}
    for r in store.find(sort="_id"):
        result = r.get("result")
        if r["status"] == "COMPLETED" and isinstance(result, dict):
            out[str(r["_id"])] = result["optimization_target"]
    return out


def test_search_space_list_and_report(labwatch_dir):
    store = open_store(labwatch_dir)
    client = create_app(labwatch_dir).test_client()
    assert client.get("/api/search_spaces").get_json() == [
        {"name": "small", "runs": 4, "defined": True}
    ]
    report = client.get("/api/search_space/small").get_json()
    assert report["total"] == 4
    assert report["counts"] == {"COMPLETED": 3, "FAILED": 1}
    definition = report["definition"]
    assert definition["name"] == "small" and definition["versions"] == 1
    assert definition["parameters"]["lr"]["_class"] == "UniformFloat"
    assert set(definition["parameters"]["opt"]["choices"]) == {"adam", "sgd"}
    assert report["parameters"] == ["lr", "opt"]
    expected = {k: v for k, v in costs(store).items() if k in ("1", "2", "3")}  # not run 5
    assert [p["run_id"] for p in report["curve"]] == ["1", "2", "3"]
    assert [p["cost"] for p in report["curve"]] == [expected[i] for i in ("1", "2", "3")]
    best = [min(list(expected.values())[: i + 1]) for i in range(3)]
    assert [p["best"] for p in report["curve"]] == best
    assert [t["id"] for t in report["top"]] == sorted(expected, key=expected.get)
    top = report["top"][0]
    assert top["config"]["lr"] == store.get(int(top["id"]))["config"]["lr"]
    assert report["cost"]["min"] == min(expected.values())


def test_search_space_page_of_a_run_without_labwatch(labwatch_dir):
    client = create_app(labwatch_dir).test_client()
    assert client.get("/api/search_space/nope").status_code == 404
    page = client.get("/search_space/small")
    assert b'data-space="small"' in page.data


# ---------------------------------------------------------------- issue 17: the Branin example


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def branin_dir(tmp_path_factory):
    """examples/labwatch_branin.py run 16 times with its search space, as a newcomer would."""
    tmp_path = tmp_path_factory.mktemp("branin")
    basedir = str(tmp_path / "runs")
    example = runpy.run_path(
        os.path.join(REPO, "examples", "labwatch_branin.py"), run_name="branin_example"
    )
    ex = example["ex"]
    ex.observers.append(FileStorageObserver(basedir))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for _ in range(16):
            ex.run(named_configs=["search_space"], options={"--capture": "sys"})
    finally:
        os.chdir(cwd)
    return basedir


def test_parameters_inside_lists_have_values(branin_dir):
    store = open_store(branin_dir)
    report = create_app(branin_dir).test_client().get("/api/search_space/search_space").get_json()
    assert report["parameters"] == ["x[0]", "x[1]"]
    assert len(report["top"]) == 10
    for row in report["top"]:
        x = store.get(int(row["id"]))["config"]["x"]
        assert row["config"] == {"x[0]": x[0], "x[1]": x[1]}
    assert len(report["points"]) == 16
    for point in report["points"]:
        assert isinstance(point["values"]["x[0]"], float)
        assert isinstance(point["values"]["x[1]"], float)
    costs = [p["cost"] for p in report["points"]]
    assert report["log_scale"] == (max(costs) >= 100 * min(costs))
    assert {e["parameter"] for e in report["importance"]} == {"x[0]", "x[1]"}
    assert all(0 <= e["explained"] <= 1 and e["runs"] == 16 for e in report["importance"])


def _assistant_runs(tmp_path, main, n, **spaces):
    """``n`` runs of each search space in ``spaces`` (name -> function), random search."""
    basedir = str(tmp_path / "runs")
    ex = Experiment("importance")

    @ex.config
    def cfg():
        a = 0.5  # noqa: F841
        b = 0.5  # noqa: F841
        k = 0  # noqa: F841

    assistant = LabAssistant(ex, store=basedir, optimizer=lambda s: RandomSearch(s, seed=1))
    for name, function in spaces.items():
        function.__name__ = name
        assistant.search_space(function)
    ex.main(main)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for name in spaces:
            for _ in range(n):
                ex.run(named_configs=[name], options={"--capture": "sys"})
    finally:
        os.chdir(cwd)
    return create_app(basedir).test_client()


def test_log_scale_only_when_costs_span_decades(tmp_path):
    def decades():
        k = UniformInt(0, 5)  # noqa: F841

    def narrow():
        a = UniformFloat(0, 1)  # noqa: F841

    def main(a, k, _run):
        return 10.0**k if "decades" in _run.meta_info["named_configs"] else 1 + a

    client = _assistant_runs(tmp_path, main, 12, decades=decades, narrow=narrow)
    assert client.get("/api/search_space/decades").get_json()["log_scale"] is True
    assert client.get("/api/search_space/narrow").get_json()["log_scale"] is False


def test_importance_names_the_parameter_that_matters(tmp_path):
    def space():
        a = UniformFloat(0, 1)  # noqa: F841
        b = UniformFloat(0, 1)  # noqa: F841

    def main(a, b):
        return 10 * a + 0.01 * b

    client = _assistant_runs(tmp_path, main, 40, space=space)
    importance = client.get("/api/search_space/space").get_json()["importance"]
    assert [e["parameter"] for e in importance] == ["a", "b"]
    assert importance[0]["explained"] > 0.8 and importance[1]["explained"] < 0.2


def test_the_optimizer_of_a_stored_definition_is_named(labwatch_dir):
    definition = {"name": "small", "optimizer": "Bohamiann", "parameters": {"lr": {}, "opt": {}}}
    client = create_app(labwatch_dir, search_spaces={"small": definition}).test_client()
    # the runs record the optimizer that made them (RandomSearch here): that wins over the
    # definition's, which only stands in for runs of an assistant that recorded none
    assert client.get("/api/search_space/small").get_json()["optimizer"] == "RandomSearch"


CHROMIUM = "/usr/bin/chromium"


def test_branin_search_space_page_in_a_browser(branin_dir):
    if not os.path.exists(CHROMIUM) and os.environ.get("SACRED_REQUIRE_SERVICES") != "1":
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    from tests.sacredboard.conftest import ARTIFACTS_DIR, LiveServer

    report = create_app(branin_dir).test_client().get("/api/search_space/search_space").get_json()
    live = LiveServer(create_app(branin_dir))
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(live.url + "/search_space/search_space")
            page.wait_for_selector("#space-curve canvas")
            expect(page.locator("#space-summary")).to_contain_text("COMPLETED: 16")
            cells = page.locator("#space-top tbody tr").first.locator("td")
            assert cells.count() == 4
            best = report["top"][0]["config"]
            for i, name in ((2, "x[0]"), (3, "x[1]")):
                # 4 significant digits in the cell, the whole value on hover
                assert float(cells.nth(i).inner_text()) == pytest.approx(best[name], rel=1e-3)
                whole = cells.nth(i).get_attribute("title") or cells.nth(i).inner_text()
                assert float(whole) == best[name]
            assert page.is_checked("#space-log") == report["log_scale"]
            scatters = page.locator("#space-scatter canvas")
            assert scatters.count() == 2
            assert page.locator("#space-importance tbody tr").count() == 2
            drawn = page.evaluate(
                "() => [...document.querySelectorAll('#space-scatter canvas, #space-parallel')]"
                ".map(c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height)"
                ".data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })"
            )
            assert len(drawn) == 3 and min(drawn) > 2000  # axes, labels and points drawn
            page.click("#space-log")  # the other scale redraws without errors
            assert page.is_checked("#space-log") != report["log_scale"]
            os.makedirs(ARTIFACTS_DIR, exist_ok=True)
            path = os.path.join(ARTIFACTS_DIR, "search_space_branin.png")
            page.click("#space-log")
            page.screenshot(path=path, full_page=True)
            assert errors == []
            browser.close()
    finally:
        live.stop()
