"""A folder is a TinyDB store by its metadata.json (TinyDB's tables, with "runs"), also
without hashfs/ (TinyDB makes that folder with the first file it stores)."""

import json
import shutil
import subprocess
import sys

import pytest

from sacred.store import StoreError, open_store, scheme_of

tinydb = pytest.importorskip("tinydb")
pytest.importorskip("tinydb_serialization")
pytest.importorskip("hashfs")


def test_a_fresh_tinydb_folder_is_tinydb(tmp_path):
    from sacred.observers import TinyDbObserver

    TinyDbObserver(str(tmp_path / "db"))  # an empty metadata.json, no hashfs/ yet
    assert not (tmp_path / "db" / "hashfs").exists()
    assert scheme_of(str(tmp_path / "db")) == "tinydb"
    with open_store(str(tmp_path / "db")) as store:
        assert type(store).__name__ == "TinyDbStore"
        assert store.find_ids() == []


def test_a_tinydb_folder_without_hashfs_is_tinydb(tmp_path):
    # a folder whose hashfs/ was lost: its runs are still read
    from sacred import Experiment
    from sacred.observers import TinyDbObserver

    ex = Experiment("nofiles", interactive=True, save_git_info=False)
    ex.main(lambda: 3)
    ex.observers.append(TinyDbObserver(str(tmp_path / "db")))
    run_id = ex.run(options={"--capture": "no"})._id
    assert json.loads((tmp_path / "db" / "metadata.json").read_text())["runs"]
    shutil.rmtree(tmp_path / "db" / "hashfs", ignore_errors=True)  # damaged: files lost
    assert scheme_of(str(tmp_path / "db")) == "tinydb"
    with open_store(str(tmp_path / "db")) as store:
        assert store.find_ids() == [run_id]
        assert store.get(run_id)["result"] == 3


@pytest.mark.parametrize(
    "content",
    ["", "  \n", "{}", '{"runs": {}}', '{"metrics": {}, "runs": {"1": {"_id": "x"}}}'],
)
def test_tinydb_layouts(tmp_path, content):
    (tmp_path / "metadata.json").write_text(content)
    assert scheme_of(str(tmp_path)) == "tinydb"
    assert scheme_of(tmp_path) == "tinydb"


def test_only_the_start_of_a_big_metadata_json_is_read(tmp_path):
    # "runs" comes first in what TinyDB writes: the rest is not parsed (here it is no JSON)
    with open(tmp_path / "metadata.json", "w") as f:
        f.write('{"runs": {"1": ' + "x" * 5_000_000)
    assert scheme_of(str(tmp_path)) == "tinydb"


@pytest.mark.parametrize(
    "content, why",
    [
        ('{"name": "my data"}', 'a JSON object without TinyDB\'s "runs" table'),
        ('{"runs": [1, 2]}', 'a JSON object without TinyDB\'s "runs" table'),
        ("[1, 2]", "not a JSON object"),
        ("runs:\n  - 1\n", "not JSON"),
    ],
)
def test_a_folder_that_is_neither_is_a_one_line_error(tmp_path, content, why):
    (tmp_path / "metadata.json").write_text(content)
    with pytest.raises(StoreError) as info:
        scheme_of(str(tmp_path))
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        f"{str(tmp_path)!r} is neither a TinyDB folder nor a FileStorageObserver folder: "
        f"its metadata.json is {why}"
    )
    with pytest.raises(StoreError, match="is neither a TinyDB folder"):
        open_store(str(tmp_path))


def test_the_cli_says_it_in_one_line(tmp_path):
    (tmp_path / "metadata.json").write_text("[]")
    done = subprocess.run(
        [sys.executable, "-m", "sacred.store.cli", "runs", "list", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"sacred: error: {str(tmp_path)!r} is neither a TinyDB folder nor a "
        "FileStorageObserver folder: its metadata.json is not a JSON object\n"
    )


def test_a_file_storage_folder_may_hold_a_metadata_json(tmp_path):
    # a FileStorageObserver folder (runs or _sources) with some other metadata.json in it
    from sacred import Experiment
    from sacred.observers import FileStorageObserver

    ex = Experiment("files", interactive=True, save_git_info=False)
    ex.main(lambda: 1)
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))
    ex.run(options={"--capture": "no"})
    (tmp_path / "runs" / "metadata.json").write_text('{"owner": "me"}')
    assert scheme_of(str(tmp_path / "runs")) == "file"
    with open_store(str(tmp_path / "runs")) as store:
        assert len(store.find_ids()) == 1


def test_folders_without_metadata_json_are_file_stores(tmp_path):
    assert scheme_of(str(tmp_path)) == "file"
    assert scheme_of(str(tmp_path / "missing")) == "file"
    (tmp_path / "metadata.json").mkdir()  # not a file
    assert scheme_of(str(tmp_path)) == "file"
