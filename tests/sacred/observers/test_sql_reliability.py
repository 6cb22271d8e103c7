"""SqlObserver reliability: a database away from the start is retried on a backoff, events
that could not be written are in the journal as they fail (a process killed mid-outage
leaves one that ``sacred sync`` applies), the command line's meta is kept, and the output
chunks of a run that died are folded into ``run.captured_out``."""

import contextlib
import datetime as dt
import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sacred import Experiment
from sacred.observers import FileStorageObserver
from sacred.observers.sql import SqlObserver
from sacred.store import open_store
from sacred.store.cli import main as sacred_main

sa = pytest.importorskip("sqlalchemy")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def _down(observer, switch):
    """Every statement of the observer's engine fails while ``switch["down"]``."""

    def refuse(*args, **kwargs):
        switch["tries"] = switch.get("tries", 0) + 1
        if switch["down"]:
            raise sa.exc.OperationalError(
                "(down)", None, ConnectionRefusedError("connection refused (the database is down)")
            )

    sa.event.listen(observer.engine, "before_cursor_execute", refuse)


# ---------------------------------------------------------------- meta of the command line
def test_the_command_lines_meta_is_kept_as_the_folder_store_keeps_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    ex = Experiment("meta")
    ex.add_config(lr=0.1, depth=2)

    @ex.named_config
    def deep():
        depth = 8  # noqa: F841

    ex.main(lambda lr, depth: lr * depth)
    ex.observers[:] = [SqlObserver(url), FileStorageObserver(str(tmp_path / "runs"))]
    ex.run(
        config_updates={"lr": 0.5},
        named_configs=["deep"],
        options={"--capture": "sys", "--comment": "try"},
    )
    sql = open_store(url).get(1)["meta"]
    folder = open_store(str(tmp_path / "runs")).get(1)["meta"]
    assert sql["config_updates"] == {"lr": 0.5} and sql["named_configs"] == ["deep"]
    assert sql["options"]["--comment"] == "try"
    assert sql == folder


# ---------------------------------------------------------------- a database away from the start
def _beating(obs, beats, between=None):
    ex = Experiment("beats")
    ex.observers.append(obs)

    @ex.main
    def main(_run):
        for i in range(beats):
            _run.log_scalar("loss", float(i), i)
            print(f"beat {i}")
            _run._emit_heartbeat()
            if between is not None:
                between(i)
        return "done"

    return ex


def test_a_database_away_from_the_start_is_tried_on_a_backoff_not_at_every_event(tmp_path):
    obs = SqlObserver(f"sqlite:///{tmp_path / 'runs.db'}", failure_dir=str(tmp_path / "failed"))
    obs.retry_timeout, obs.retry_interval = 0.2, 0.05
    switch = {"down": True}
    _down(obs, switch)
    tries_in_run = []
    ex = _beating(obs, 60, between=lambda i: tries_in_run.append(switch.get("tries", 0)))
    start = time.monotonic()
    run = ex.run(options={"--capture": "sys"})
    seconds = time.monotonic() - start
    assert run.status == "COMPLETED" and run._failed_observers == []
    # the start, the next event, then waits doubling from 1 s: a few tries (of at most two
    # statements each), not one an event (120 events)
    assert tries_in_run[-1] <= 2 * (3 + int(seconds).bit_length()), (tries_in_run, seconds)
    (path,) = (tmp_path / "failed").glob("*.jsonl")
    events = [json.loads(line)["event"] for line in path.read_text().splitlines()]
    assert events[0] == "started_event" and events[-1] == "completed_event"
    assert events.count("heartbeat_event") == 1 and events.count("log_metrics") == 60


def test_a_journal_that_cannot_be_written_is_said_once_and_the_run_goes_on(tmp_path, caplog):
    failure_dir = tmp_path / "failed"
    failure_dir.write_text("a file where the folder should be")
    obs = SqlObserver(f"sqlite:///{tmp_path / 'runs.db'}", failure_dir=str(failure_dir))
    obs.retry_timeout, obs.retry_interval = 0.2, 0.05
    _down(obs, {"down": True})
    with caplog.at_level(logging.WARNING):
        run = _beating(obs, 10).run(options={"--capture": "sys"})
    assert run.status == "COMPLETED" and run._failed_observers == []
    said = [r for r in caplog.records if "nor to the journal" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.ERROR


def test_a_long_outage_rewrites_the_journal_without_its_replaced_heartbeats(tmp_path, monkeypatch):
    from sacred.observers.sql import journal

    monkeypatch.setattr(journal, "_COMPACT_AT", 5000)  # characters of replaced lines
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    obs = SqlObserver(url, failure_dir=str(tmp_path / "failed"))
    obs.retry_timeout, obs.retry_interval = 0.2, 0.05
    switch = {"down": True}
    _down(obs, switch)
    in_file = []
    ex = Experiment("long")
    ex.observers.append(obs)
    line = "x" * 200

    @ex.main
    def main(_run):
        for i in range(60):
            _run.log_scalar("loss", float(i), i)
            print(f"{i} {line}")
            _run._emit_heartbeat()
            (path,) = (tmp_path / "failed").glob("*.jsonl")
            in_file.append(path.read_text().count('"heartbeat_event"'))

    run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED"
    assert max(in_file) < 20 and in_file[-1] < 20  # not one line a beat: rewritten
    (path,) = (tmp_path / "failed").glob("*.jsonl")
    assert path.read_text().count('"heartbeat_event"') == 1  # at the end: the newest
    switch["down"] = False
    assert sacred_main(["sync", str(path), url]) == 0
    record = open_store(url).get(1)
    assert record["status"] == "COMPLETED"
    assert record["captured_out"] == "".join(f"{i} {line}\n" for i in range(60))
    assert open_store(url).metrics(1)["loss"]["steps"] == list(range(60))


def test_a_database_back_mid_run_gets_the_run_and_no_journal_is_left(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    obs = SqlObserver(url, failure_dir=str(tmp_path / "failed"))
    obs.outage_retry_interval = 0.3  # the longest wait between tries
    switch = {"down": True}
    _down(obs, switch)
    seen = {}

    def between(i):
        if i == 9:
            # journaled as they failed: a process killed now leaves them
            (path,) = (tmp_path / "failed").glob("*.jsonl")
            seen["journaled"] = path.read_text().count('"log_metrics"')
            switch["down"] = False
            time.sleep(0.4)  # past the wait: the next beat tries again
        if i == 15:
            seen["record"] = open_store(url).get(1)

    ex = _beating(obs, 20, between)
    with caplog.at_level(logging.INFO):
        run = ex.run(options={"--capture": "sys"})
    assert run.status == "COMPLETED"
    assert seen["journaled"] == 10
    assert seen["record"]["status"] == "RUNNING"  # written while the run went on
    assert "beat 15\n" in seen["record"]["captured_out"]
    assert "reachable again" in caplog.text
    assert list((tmp_path / "failed").glob("*.jsonl")) == []  # the database has it all
    record = open_store(url).get(1)
    assert record["status"] == "COMPLETED" and record["result"] == "done"
    assert record["captured_out"] == "".join(f"beat {i}\n" for i in range(20))
    assert open_store(url).metrics(1)["loss"]["steps"] == list(range(20))


def test_a_replaced_heartbeat_in_the_journal_is_not_applied_after_a_newer_one(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    obs = SqlObserver(url, failure_dir=str(tmp_path / "failed"))
    obs.outage_retry_interval = 0.3
    switch = {"down": False}
    _down(obs, switch)
    seen = {}

    def between(i):
        if i == 2:
            switch["down"] = True  # beats 3 and 4 are journaled, 4 replaces 3
        if i == 4:
            switch["down"] = False
            time.sleep(0.4)
        if i == 6:  # the database has beats 5 and 6: sync the journal as a kill leaves it
            (path,) = (tmp_path / "failed").glob("*.jsonl")
            seen["heartbeats"] = path.read_text().count('"heartbeat_event"')
            copy = path.with_name("copy.jsonl")
            copy.write_text(path.read_text())
            with contextlib.redirect_stdout(io.StringIO()) as out:  # not in the run's output
                seen["sync"] = sacred_main(["sync", str(copy), url])
            seen["synced"] = out.getvalue()
            seen["output"] = open_store(url).get(1)["captured_out"]

    ex = _beating(obs, 8, between)
    ex.run(options={"--capture": "sys"})
    assert seen["heartbeats"] == 2 and seen["sync"] == 0
    assert ": 0 events applied, 5 already there" in seen["synced"]
    assert seen["output"] == "".join(f"beat {i}\n" for i in range(7))
    record = open_store(url).get(1)
    assert record["status"] == "COMPLETED"
    assert record["captured_out"] == "".join(f"beat {i}\n" for i in range(8))
    assert open_store(url).metrics(1)["loss"]["steps"] == list(range(8))


# ---------------------------------------------------------------- kill -9 while away
CHILD = textwrap.dedent(
    """
    import os, sys, time
    import sqlalchemy as sa
    from sacred import Experiment
    from sacred.observers import SqlObserver

    url, failure_dir, mode = sys.argv[1:4]
    obs = SqlObserver(url, failure_dir=failure_dir)

    def refuse(*args, **kwargs):
        if os.path.exists("down"):
            raise sa.exc.OperationalError("(down)", None, ConnectionRefusedError("refused"))

    sa.event.listen(obs.engine, "before_cursor_execute", refuse)
    ex = Experiment("killed")
    ex.add_config(lr=0.5)
    ex.observers.append(obs)

    @ex.main
    def main(_run, lr):
        for i in range(20):
            if i == 10:
                _run._emit_heartbeat()
                if mode == "mid":
                    open("down", "w").close()  # the database goes away
            _run.log_scalar("loss", lr * i, i)
            print(f"step {i}")
        _run._emit_heartbeat()
        with open("ready", "w") as f:
            f.write(str(_run._id))
        time.sleep(300)

    ex.run(options={"--capture": "sys"})
    """
)


@pytest.mark.parametrize("mode", ["start", "mid"])
def test_a_run_killed_while_the_database_is_away_is_restored_by_sacred_sync(tmp_path, mode, capsys):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    failure_dir = tmp_path / "failed"
    (tmp_path / "child.py").write_text(CHILD)
    if mode == "start":
        (tmp_path / "down").touch()
    env = dict(os.environ, PYTHONPATH=ROOT)
    child = subprocess.Popen(
        [sys.executable, "child.py", url, str(failure_dir), mode], cwd=tmp_path, env=env
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "ready").exists():
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL
    (tmp_path / "down").unlink()
    (path,) = failure_dir.glob("*.jsonl")
    if mode == "mid":  # before the sync: what was written before the outage
        assert open_store(url).metrics(1)["loss"]["steps"] == list(range(10))

    capsys.readouterr()
    assert sacred_main(["sync", str(path), url]) == 0
    assert sacred_main(["sync", str(path), url]) == 0  # again: nothing twice
    assert ": 0 events applied" in capsys.readouterr().out.splitlines()[-1]
    store = open_store(url)
    (run_id,) = store.find_ids()
    record = store.get(run_id)
    assert record["status"] == "RUNNING" and record["config"]["lr"] == 0.5
    assert record["captured_out"] == "".join(f"step {i}\n" for i in range(20))
    loss = store.metrics(run_id)["loss"]
    assert loss["steps"] == list(range(20)) and loss["values"] == [0.5 * i for i in range(20)]


# ---------------------------------------------------------------- output chunks of a run that died
EX_INFO = {
    "name": "folded",
    "base_dir": "/tmp",
    "sources": [],
    "dependencies": [],
    "repositories": [],
}
HOST = {"hostname": "h", "cpu": "c", "os": ["Linux", "x"], "python_version": "3"}
OUTPUT = "".join(f"line {i}\n" for i in range(40))


def _died_with_chunks(url, run_id=1):
    """A run whose process died after 40 beats: its output is partly in chunks."""
    obs = SqlObserver(url)
    obs.output_fold_limit = 50  # characters: the rest of the output goes to chunks
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    obs.started_event(EX_INFO, "main", HOST, now, {"a": 1}, {}, run_id)
    for i in range(1, 41):
        obs.heartbeat_event({}, OUTPUT[: 8 * i], now, None)
    return obs


def _column_and_chunks(url, run_id="1"):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            column = conn.execute(
                sa.text("SELECT captured_out FROM run WHERE run_id = :r"), {"r": run_id}
            ).scalar()
            chunks = conn.execute(
                sa.text("SELECT count(*) FROM output_chunk WHERE run_id = :r"), {"r": run_id}
            ).scalar()
    finally:
        engine.dispose()
    return column, chunks


def test_fold_output_gives_the_originals_readers_the_whole_output_of_a_dead_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _died_with_chunks(url)
    column, chunks = _column_and_chunks(url)
    assert len(column) < len(OUTPUT) and chunks > 0  # the original's readers: a prefix
    store = open_store(url)
    assert store.get(1)["captured_out"] == OUTPUT
    assert store.fold_output() == []  # it beat a moment ago: maybe alive, left alone
    assert store.fold_output(dead_after=0) == [1]
    assert _column_and_chunks(url) == (OUTPUT, 0)
    assert store.get(1)["captured_out"] == OUTPUT
    assert store.fold_output(dead_after=0) == []  # nothing left to fold


def test_a_write_that_touches_a_dead_run_folds_its_output(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _died_with_chunks(url, 1)
    _died_with_chunks(url, 2)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # run 1 beat last an hour ago
        conn.execute(sa.text("UPDATE run SET heartbeat = '2000-01-01 00:00:00' WHERE id = 1"))
    engine.dispose()
    open_store(url).update_meta(1, {"tags": ["dead"]})
    assert _column_and_chunks(url, "1") == (OUTPUT, 0)

    # a resumed run (continued_event) starts from its folded output
    obs = SqlObserver(url)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert obs.continued_event(EX_INFO, "main", HOST, now, {"a": 1}, {}, 2) == 2
    assert _column_and_chunks(url, "2") == (OUTPUT, 0)
    obs.heartbeat_event({}, OUTPUT + "more\n", now, None)
    obs.completed_event(now, 1)
    assert open_store(url).get(2)["captured_out"] == OUTPUT + "more\n"
    assert _column_and_chunks(url, "2") == (OUTPUT + "more\n", 0)
