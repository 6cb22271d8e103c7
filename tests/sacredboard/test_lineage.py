"""Lineage on a run's page (issue 16): the parent link, the children, the rerun and resume
history and a copyable ``sacred rerun`` line, with runs made by the real machinery
(``ex.run(parent=...)``, ``sacred.rerun``, ``ex.run(resume=...)``).

Runs of ``lineage_store`` (a folder, or SQLite), in this order:

==  ==========  ===========================================================
id  experiment  how
==  ==========  ===========================================================
1   train       train.py (a script, so that it can be rerun from its sources)
2   evaluate    ``parent=(store, 1)``: reads lr from its parent
3   evaluate    ``parent=(store, 1)``
4   evaluate    ``parent=(other folder, 1)``: a parent in another store
5   train       ``sacred.rerun(store, 1)``: ``meta.rerun_of``
6   resumable   failed at step 2, then resumed to COMPLETED (two segments)
==  ==========  ===========================================================
"""

from __future__ import annotations

import os
import shlex

import pytest

from sacred import Experiment
from sacred.launch.script import load_experiment
from sacred.observers import FileStorageObserver
from sacred.reproduce import rerun
from sacred.store import open_store
from sacred.store.location import open_observer
from sacredboard import lineage
from sacredboard.app import create_app
from tests.sacredboard import chromium
from tests.sacredboard.chromium import needs_chromium, screenshot
from tests.sacredboard.conftest import LiveServer

browser, page = chromium.browser, chromium.page  # the fixtures

TRAIN = """\
from sacred import Experiment

ex = Experiment("train")


@ex.config
def cfg():
    lr = 0.1


@ex.main
def main(_run, lr):
    for i in range(3):
        _run.log_scalar("loss", lr / (i + 1), i)
    return lr
"""


def _evaluate(location, parent, seen):
    ex = Experiment("evaluate")
    ex.observers.append(open_observer(location))

    @ex.main
    def main(_run):
        seen.append(_run.parent.config["lr"])
        return _run.parent.result * 2

    return ex.run(parent=parent, options={"--capture": "sys"})


def _resumable(location, state):
    ex = Experiment("resumable")
    ex.observers.append(open_observer(location))

    @ex.main
    def main(_run):
        start = 0 if _run.last_step("loss") is None else _run.last_step("loss") + 1
        for i in range(start, 4):
            if i == 2 and not state.get("fixed"):
                raise RuntimeError("crashed on purpose")
            _run.log_scalar("loss", 1.0 / (i + 1), i)
        return 4

    return ex


def make_runs(tmp_path, location):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    other = str(tmp_path / "other")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        ex = load_experiment(str(script))
        ex.observers[:] = [open_observer(location)]
        assert str(ex.run(options={"--capture": "sys"})._id) == "1"
        ex.observers[:] = [FileStorageObserver(other)]
        ex.run(options={"--capture": "sys"})  # run 1 of the other folder
        seen = []
        assert str(_evaluate(location, (location, 1), seen)._id) == "2"
        assert str(_evaluate(location, (location, 1), seen)._id) == "3"
        assert str(_evaluate(location, (other, 1), seen)._id) == "4"
        assert seen == [0.1, 0.1, 0.1]
        assert str(rerun(location, 1).run_id) == "5"
        state = {}
        res = _resumable(location, state)
        with pytest.raises(RuntimeError):
            res.run(options={"--capture": "sys"})
        state["fixed"] = True
        assert str(res.run(resume=6, options={"--capture": "sys"})._id) == "6"
    finally:
        os.chdir(cwd)
    return other


LOCATIONS = {
    "file": lambda tmp_path: str(tmp_path / "runs"),
    "sqlite": lambda tmp_path: f"sqlite:///{tmp_path / 'runs.db'}",
}


@pytest.fixture(scope="module", params=sorted(LOCATIONS))
def lineage_store(request, tmp_path_factory):
    """(location, other folder) of the runs above."""
    tmp_path = tmp_path_factory.mktemp(f"lineage_{request.param}")
    location = LOCATIONS[request.param](tmp_path)
    if request.param == "sqlite":
        (tmp_path / "runs.db").touch()
    other = make_runs(tmp_path, location)
    return location, other


@pytest.fixture(scope="module")
def file_lineage(tmp_path_factory):
    """The runs above in a folder (for the page)."""
    tmp_path = tmp_path_factory.mktemp("lineage_page")
    location = str(tmp_path / "runs")
    return location, make_runs(tmp_path, location)


@pytest.fixture
def client(lineage_store):
    return create_app(lineage_store[0]).test_client()


def lineage_of(client, run_id):
    resp = client.get(f"/api/run/{run_id}/lineage")
    assert resp.status_code == 200
    return resp.get_json()


def test_children_reruns_and_the_rerun_line_of_a_parent(client, lineage_store):
    location, _ = lineage_store
    d = lineage_of(client, 1)
    assert [c["id"] for c in d["children"]] == ["2", "3"]  # not 4: its parent is elsewhere
    assert d["children"][0]["experiment_name"] == "evaluate"
    assert [r["id"] for r in d["reruns"]] == ["5"]
    assert d["parent"] is None and d["rerun_of"] is None and d["segments"] == []
    shown = location if "://" in location else os.path.abspath(location)
    assert d["rerun_command"] == f"sacred rerun {shlex.quote(shown)} 1"
    assert d["children_more"] is False


def test_a_child_links_its_parent_in_the_same_store_and_names_one_elsewhere(client, lineage_store):
    parent = lineage_of(client, 2)["parent"]
    assert parent["id"] == "1" and parent["same_store"] and parent["found"]
    assert parent["experiment_name"] == "train" and parent["status"] == "COMPLETED"
    elsewhere = lineage_of(client, 4)["parent"]
    assert elsewhere == {
        "id": "1",
        "store": os.path.abspath(lineage_store[1]),
        "same_store": False,
        "found": False,
    }


def test_rerun_and_resume_history(client):
    rerun_of = lineage_of(client, 5)["rerun_of"]
    assert rerun_of["id"] == "1" and rerun_of["found"] and rerun_of["same_store"]
    segments = lineage_of(client, 6)["segments"]
    assert [s["status"] for s in segments] == ["FAILED", "COMPLETED"]
    assert all(s["start"] and s["stop"] for s in segments)
    assert "crashed on purpose" in segments[0]["error"]


def test_children_are_bounded(client, monkeypatch):
    monkeypatch.setattr(lineage, "MAX_RELATED", 1)
    d = lineage_of(client, 1)
    assert [c["id"] for c in d["children"]] == ["2"] and d["children_more"] is True


def test_a_missing_run_has_no_lineage(client):
    assert client.get("/api/run/99/lineage").status_code == 404


def test_locations_that_name_the_same_store(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    os.symlink(folder, tmp_path / "link")
    same = lineage.same_location
    assert same(str(folder), str(tmp_path / "link"))
    assert same(str(folder), "file://" + str(folder))
    assert not same(str(folder), str(tmp_path / "other"))
    assert same("mongodb://localhost/db", "mongodb://127.0.0.1:27017/db")
    assert same("mongodb://user@h1:1,h2:2/db", "mongodb://h2:2,h1:1/db")
    assert not same("mongodb://localhost/db", "mongodb://localhost/db2")
    assert same("postgresql://u@db.example:5432/x", "postgres://db.example/x")
    assert not same("sqlite:///a.db", "sqlite:///b.db")
    assert not same(None, str(folder)) and not same("nonsense:", str(folder))


@needs_chromium
def test_the_run_page_shows_lineage_and_copies_the_rerun_line(browser, file_lineage):
    location, other = file_lineage
    live = LiveServer(create_app(open_store(location), location=location))
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, permissions=["clipboard-read", "clipboard-write"]
    )
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        pg.goto(live.url + "/run/1")
        pg.wait_for_selector("#lineage-children a.run-link")
        assert pg.locator("#lineage-children a.run-link").all_inner_texts() == ["run 2", "run 3"]
        assert pg.locator("#lineage-reruns a.run-link").all_inner_texts() == ["run 5"]
        command = pg.inner_text("#rerun-command")
        assert command.startswith("sacred rerun ") and command.endswith(" 1")
        pg.click("#rerun-copy")
        pg.wait_for_selector("#rerun-note:text('Copied.')")
        assert pg.evaluate("navigator.clipboard.readText()") == command
        screenshot(pg, "run_page_lineage_parent.png")
        # a child links to its parent; the parent's page opens from there
        pg.goto(live.url + "/run/2")
        pg.wait_for_selector("#lineage-parent a.run-link")
        screenshot(pg, "run_page_lineage_child.png")
        pg.click("#lineage-parent a.run-link")
        pg.wait_for_url("**/run/1*")
        # a parent in another store: its location and id, no link
        pg.goto(live.url + "/run/4")
        pg.wait_for_selector("#lineage-parent")
        assert pg.locator("#lineage-parent a").count() == 0
        assert pg.inner_text("#lineage-parent code") == os.path.abspath(other)
        pg.goto(live.url + "/run/5")
        pg.wait_for_selector("#lineage-rerun-of a.run-link")
        # a resumed run: its segments in a small table
        pg.goto(live.url + "/run/6")
        pg.wait_for_selector("#lineage-segments tbody tr")
        cells = pg.locator("#lineage-segments tbody tr").all_inner_texts()
        assert len(cells) == 2 and "FAILED" in cells[0] and "COMPLETED" in cells[1]
        assert "RuntimeError: crashed on purpose" in cells[0]
        screenshot(pg, "run_page_lineage_resumed.png")
        assert errors == []
    finally:
        context.close()
        live.stop()
