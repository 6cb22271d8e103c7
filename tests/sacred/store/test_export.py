"""`sacred export` is all or nothing: a clear refusal before anything is written, or a whole copy."""

import subprocess
import sys

import pytest

from sacred.store import open_store

pytest.importorskip("sqlalchemy")


def sacred(*args, cwd=None):
    out = subprocess.run(
        [sys.executable, "-m", "sacred.cli", *args], capture_output=True, text=True, cwd=cwd
    )
    return out.returncode, out.stdout, out.stderr


def _ids(location):
    store = open_store(location)
    try:
        return sorted(store.find_ids())
    finally:
        store.close()


def test_export_into_a_new_sqlite_file_creates_it(fresh_file_store, tmp_path):
    _, runs = fresh_file_store
    target = tmp_path / "copy.db"
    code, out, err = sacred("export", runs, f"sqlite:///{target}")
    assert (code, err) == (0, "")
    assert out.endswith("Copied 5 runs.\n")
    assert _ids(f"sqlite:///{target}") == [1, 2, 3, 4, 5]
    copy = open_store(f"sqlite:///{target}")
    assert copy.metrics(1)["loss"]["values"] == [1.0, 0.5, 1 / 3]
    with copy.open_artifact(1, "model.txt") as f:
        assert f.read() == b"weights of a\n"


def test_export_with_clashing_ids_writes_nothing(fresh_file_store, tmp_path):
    _, runs = fresh_file_store
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    assert sacred("export", runs, target, "-q", "tag == 'b'")[0] == 0  # run 2 is there now
    code, out, err = sacred("export", runs, target)
    assert (code, out) == (1, "")
    assert err == (
        f"sacred: error: Run 2 is already in {target}; nothing was copied. "
        "Copy under new ids with --new-ids (new_ids=True).\n"
    )
    assert _ids(target) == [2]
    code, out, err = sacred("export", runs, target, "--new-ids")
    assert code == 0 and out.endswith("Copied 5 runs.\n")
    assert _ids(target) == [2, 3, 4, 5, 6, 7]


def test_an_export_that_fails_midway_is_undone(fresh_file_store, tmp_path):
    from sacred.store.cli import copy_runs

    src, _ = fresh_file_store
    (tmp_path / "copy").mkdir()
    dst = open_store(str(tmp_path / "copy"))
    real_import = dst.import_run
    calls = []

    def failing_import(record, **kwargs):
        calls.append(record["_id"])
        if len(calls) == 3:
            raise OSError("No space left on device")
        return real_import(record, **kwargs)

    dst.import_run = failing_import
    with pytest.raises(OSError, match="No space left"):
        copy_runs(src, dst)
    assert calls == [1, 2, 3]
    assert _ids(str(tmp_path / "copy")) == []
