"""A crafted run.json (or metadata.json) cannot make a store read or remove a file outside it.

A FileStorageObserver folder ``<tmp>/runs`` holds one real run (1: artifact model.txt, its
sources in _sources, a resource in _resources); ``craft`` then makes run 2 list files outside
the store: ``../../secret.txt`` (from the run folder: ``<tmp>/secret.txt``), absolute paths,
a symbolic link in the run folder to the secret, and a run folder entry ``data`` that is a
symbolic link to a folder outside. Whoever lists them, reading is refused and the secret's
bytes are never returned, copied or removed.
"""

import json
import os
import shutil
import warnings

import pytest

from sacred import Experiment
from sacred.cli import main as sacred_main
from sacred.observers import FileStorageObserver
from sacred.store import OutsideStoreError, RunNotFoundError, open_store

SECRET = b"TOP SECRET: outside the store\n"


def _experiment(basedir, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    model = tmp_path / "model.txt"
    model.write_text("weights\n")
    ex = Experiment("paths")
    ex.observers.append(FileStorageObserver(basedir))

    @ex.main
    def main(_run):
        _run.open_resource(str(data)).close()
        _run.add_artifact(str(model), "model.txt")
        return 1

    return ex


@pytest.fixture
def store_dir(tmp_path):
    """(basedir, secret path, outside folder): run 1 is real, run 2 is crafted."""
    basedir = tmp_path / "runs"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        _experiment(str(basedir), tmp_path).run(options={"--capture": "sys"})
    finally:
        os.chdir(cwd)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    craft(basedir, secret, outside)
    return basedir, secret, outside


def craft(basedir, secret, outside, source="1", target="2"):
    """Run ``target``: a copy of run ``source`` whose run.json lists files outside the
    store (the secret must be ``<basedir>/../secret.txt``)."""
    shutil.copytree(basedir / source, basedir / target)
    run_dir = basedir / target
    os.symlink(secret, run_dir / "link.txt")  # a listed symbolic link to a file outside
    os.symlink(outside, run_dir / "data")  # a run folder entry that links to a folder
    for folder, name in (("_sources", "linked_0.py"), ("_resources", "linked_0.csv")):
        os.makedirs(basedir / folder, exist_ok=True)
        os.symlink(secret, basedir / folder / name)
    with open(run_dir / "run.json") as f:
        run = json.load(f)
    run["artifacts"] = [
        "model.txt",
        "../../secret.txt",
        str(secret),
        "link.txt",
        "data/secret.txt",
        f"../{source}/model.txt",
    ]
    run["experiment"]["sources"] = [
        *run["experiment"]["sources"],
        ["evil.py", "../secret.txt"],
        ["abs.py", str(secret)],
        ["linked.py", "_sources/linked_0.py"],
    ]
    run["resources"] = [
        [str(secret), str(secret)],
        ["linked.csv", str(basedir / "_resources" / "linked_0.csv")],
        ["dotdot.csv", "../secret.txt"],
    ]
    with open(run_dir / "run.json", "w") as f:
        json.dump(run, f)


BAD_ARTIFACTS = ["../../secret.txt", "SECRET_ABS", "link.txt", "data/secret.txt", "../1/model.txt"]
BAD_SOURCES = ["evil.py", "abs.py", "linked.py"]
BAD_RESOURCES = ["SECRET_ABS", "linked.csv"]


def _name(name, secret):
    return str(secret) if name == "SECRET_ABS" else name


@pytest.mark.parametrize("name", BAD_ARTIFACTS)
def test_artifacts_outside_the_run_folder_are_refused(store_dir, name):
    basedir, secret, _ = store_dir
    store = open_store(str(basedir))
    name = _name(name, secret)
    assert name in store.artifacts(2)
    with pytest.raises(OutsideStoreError, match="Refused: artifact .* lies outside the run's"):
        store.open_artifact(2, name)
    # it is a RunNotFoundError: callers that handle a missing file handle it
    assert issubclass(OutsideStoreError, RunNotFoundError)
    with store.open_artifact(2, "model.txt") as f:
        assert f.read() == b"weights\n"


@pytest.mark.parametrize("name", BAD_SOURCES)
def test_sources_outside_sources_are_refused(store_dir, name):
    basedir, _, _ = store_dir
    store = open_store(str(basedir))
    with pytest.raises(OutsideStoreError, match="lies outside the store's _sources"):
        store.open_source(2, name)
    (own,) = [n for n in store.sources(1) if n.endswith("test_store_paths.py")]
    with store.open_source(2, own) as f:
        assert b"A crafted run.json" in f.read()


@pytest.mark.parametrize("name", BAD_RESOURCES)
def test_resources_outside_resources_are_refused(store_dir, name):
    basedir, secret, _ = store_dir
    store = open_store(str(basedir))
    with pytest.raises(OutsideStoreError, match="lies outside the store's _resources"):
        store.open_resource(2, _name(name, secret))
    with store.open_resource(1, store.resources(1)[0]) as f:
        assert f.read() == b"a,b\n1,2\n"


def test_delete_leaves_what_lies_outside(store_dir):
    basedir, secret, outside = store_dir
    store = open_store(str(basedir))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.delete(2)
    assert secret.read_bytes() == SECRET
    assert (outside / "secret.txt").read_bytes() == SECRET
    left = sorted(str(w.message) for w in caught)
    assert len(left) == 5 and all(m.endswith("; left alone") for m in left)
    assert (
        "Refused: source copy '../secret.txt' of run 2 lies outside the store's _sources"
        in (left[2])
    )
    assert not (basedir / "2").exists()
    # run 1 still has its copies (it uses them too), and they still read
    assert store.count() == 1
    with store.open_artifact(1, "model.txt") as f:
        assert f.read() == b"weights\n"
    for name in store.sources(1):
        with store.open_source(1, name) as f:
            f.read()
    store.delete(1)  # now the copies only run 1 used go, and only those
    assert os.listdir(basedir / "_sources") == ["linked_0.py"]
    assert os.listdir(basedir / "_resources") == ["linked_0.csv"]
    assert secret.read_bytes() == SECRET


def test_delete_of_a_symlinked_run_folder_removes_the_link_only(store_dir, tmp_path):
    basedir, _, _ = store_dir
    elsewhere = tmp_path / "elsewhere"
    shutil.move(str(basedir / "2"), str(elsewhere))
    os.symlink(elsewhere, basedir / "2")
    store = open_store(str(basedir))
    with pytest.warns(UserWarning):
        store.delete(2)
    assert not os.path.lexists(basedir / "2")
    assert (elsewhere / "run.json").exists()


def test_sacred_export_does_not_copy_outside_files(store_dir, tmp_path, capsys):
    basedir, _, _ = store_dir
    target = tmp_path / "copy"
    target.mkdir()
    assert sacred_main(["export", str(basedir), str(target)]) == 0
    out, err = capsys.readouterr()
    assert "Copied 2 runs." in out
    refused = [line for line in err.splitlines() if line]
    assert refused and all(line.startswith("sacred: warning: ") for line in refused)
    assert "Traceback" not in err
    for folder, _, files in os.walk(target):
        for f in files:
            path = os.path.join(folder, f)
            if not os.path.islink(path):
                with open(path, "rb") as fh:
                    assert SECRET not in fh.read(), path
    copy = open_store(str(target))
    (copied,) = [r for r in copy.find() if "link.txt" in copy.artifacts(r["_id"])]
    with copy.open_artifact(copied["_id"], "model.txt") as f:
        assert f.read() == b"weights\n"
    with pytest.raises(FileNotFoundError):  # listed still, but not copied
        copy.open_artifact(copied["_id"], "link.txt").close()
    with pytest.raises(OutsideStoreError):
        copy.open_artifact(copied["_id"], "../../secret.txt").close()


def test_import_run_writes_artifacts_only_inside_the_new_run_folder(tmp_path):
    basedir = tmp_path / "store" / "runs"
    basedir.mkdir(parents=True)
    store = open_store(str(basedir))
    record = {"experiment": {"name": "x", "sources": []}, "status": "COMPLETED", "config": {}}
    with pytest.warns(UserWarning, match="is not written"):
        run_id = store.import_run(
            record,
            artifacts={
                "../../escaped.txt": b"x",
                str(tmp_path / "abs.txt"): b"x",
                "run.json": b"x",
                "sub/ok.txt": b"fine",
            },
        )
    assert not (tmp_path / "store" / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "abs.txt").exists()
    with store.open_artifact(run_id, "sub/ok.txt") as f:
        assert f.read() == b"fine"
    assert store.get(run_id)["status"] == "COMPLETED"


# ---------------------------------------------------------------------- TinyDB
def test_tinydb_refuses_ids_that_name_files_outside_hashfs(tmp_path):
    pytest.importorskip("tinydb")
    pytest.importorskip("tinydb_serialization")
    pytest.importorskip("hashfs")
    from sacred.observers import TinyDbObserver

    folder = tmp_path / "db"
    model = tmp_path / "model.txt"
    model.write_text("weights\n")
    ex = Experiment("tiny")
    ex.observers.append(TinyDbObserver(str(folder)))

    @ex.main
    def main(_run):
        _run.add_artifact(str(model), "model.txt")
        _run.add_artifact(str(model), "evil.txt")

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        ex.run(options={"--capture": "sys"})
    finally:
        os.chdir(cwd)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    path = folder / "metadata.json"
    raw = json.loads(path.read_text())
    (entry,) = raw["runs"].values()
    entry["artifacts"][1][2] = str(secret)  # an absolute path as the file id
    entry["experiment"]["sources"].append(["evil.py", "../../secret.txt"])
    path.write_text(json.dumps(raw))
    store = open_store(f"tinydb://{folder}")
    (run,) = store.find()
    with pytest.raises(OutsideStoreError, match="lies outside the store's hashfs"):
        store.open_artifact(run["_id"], "evil.txt")
    with pytest.raises(OutsideStoreError):
        store.open_source(run["_id"], "evil.py")
    with store.open_artifact(run["_id"], "model.txt") as f:
        assert f.read() == b"weights\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store.delete(run["_id"])
    assert secret.read_bytes() == SECRET
    assert [str(w.message).endswith("; left alone") for w in caught] == [True, True]
