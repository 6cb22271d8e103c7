"""Progress bars for long ``sacred export`` and ``sacred sync``: on a terminal, or with
``--progress``; never in a pipe (CI, scripts), and nothing breaks without tqdm."""

import subprocess
import sys

import pytest

from sacred import Experiment
from sacred.observers import SqlObserver
from tests.terminal import command_on_a_terminal

pytest.importorskip("sqlalchemy")

NO_TQDM = (
    "import sys; sys.modules['tqdm'] = None; from sacred.store.cli import main; sys.exit(main())"
)


def sacred(*args, cwd=None, without_tqdm=False):
    command = ["-c", NO_TQDM, *args] if without_tqdm else ["-m", "sacred.store.cli", *args]
    done = subprocess.run(
        [sys.executable, *command], capture_output=True, text=True, cwd=cwd, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def sacred_on_a_terminal(*args, cwd=None):
    """stderr is a terminal (a pty), stdout a pipe; returns (code, stdout, terminal text)."""
    return command_on_a_terminal([sys.executable, "-m", "sacred.store.cli", *args], cwd=cwd)


COPIED = "".join(f"run {i} -> {i}\n" for i in range(1, 6)) + "Copied 5 runs.\n"


def test_export_in_a_pipe_shows_no_bar(fresh_file_store, tmp_path):
    _, runs = fresh_file_store
    assert sacred("export", runs, str(tmp_path / "copy")) == (0, COPIED, "")


def test_export_on_a_terminal_shows_a_bar(fresh_file_store, tmp_path):
    _, runs = fresh_file_store
    code, out, shown = sacred_on_a_terminal("export", runs, str(tmp_path / "copy"))
    assert (code, out) == (0, COPIED)
    assert "export: 100%" in shown and "5/5" in shown


def test_export_with_progress_shows_a_bar_in_a_pipe(fresh_file_store, tmp_path):
    _, runs = fresh_file_store
    code, out, err = sacred("export", "--progress", runs, str(tmp_path / "copy"))
    assert (code, out) == (0, COPIED)
    assert "export: 100%" in err and "5/5 [" in err


def test_without_tqdm_progress_is_one_warning_and_the_export_goes_on(fresh_file_store, tmp_path):
    _, runs = fresh_file_store
    code, out, err = sacred("export", "--progress", runs, str(tmp_path / "copy"), without_tqdm=True)
    assert (code, out) == (0, COPIED)
    assert err == (
        "sacred: warning: --progress needs tqdm, which is not installed: "
        'pip install "sacred[progress]"\n'
    )


def journals(tmp_path, n):
    """n SQLite runs journaled (the database's folder does not exist yet); the URL."""
    url = f"sqlite:///{tmp_path}/db/runs.db"
    for _ in range(n):
        ex = Experiment("journaled")
        ex.main(lambda: 7)
        ex.observers.append(
            SqlObserver(
                url,
                failure_dir=str(tmp_path / "journals"),
                retry_timeout=0.2,
                retry_interval=0.1,
            )
        )
        ex.run(options={"--capture": "no"})
    (tmp_path / "db").mkdir()
    return url


def test_sync_shows_a_bar_only_when_asked_or_on_a_terminal(tmp_path):
    journals(tmp_path, 3)
    code, out, err = sacred("sync", str(tmp_path / "journals"), "--progress")
    assert code == 0, err
    assert out.endswith("Synced 3 of 3 journals.\n")
    assert "sync: 100%" in err and "3/3 [" in err
    code, out, err = sacred("sync", str(tmp_path / "journals"))  # again: idempotent, no bar
    assert (code, err) == (0, "")
    assert out.endswith("Synced 3 of 3 journals.\n")
    code, out, shown = sacred_on_a_terminal("sync", str(tmp_path / "journals"))
    assert code == 0 and out.endswith("Synced 3 of 3 journals.\n")
    assert "sync: 100%" in shown and "3/3" in shown
