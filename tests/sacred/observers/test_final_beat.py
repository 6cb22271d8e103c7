"""The run's last beat and its final event: observers hear both; the SqlObserver writes them
in one transaction (one commit, i.e. one wait for the disk, fewer per run)."""

from unittest import mock

import pytest

from sacred import Experiment
from sacred.observers import RunObserver


def _experiment(fail=False):
    ex = Experiment("final beat")

    @ex.main
    def main(_run):
        _run.info["seen"] = 1
        print("hello")
        if fail:
            raise ValueError("no")
        return 3

    return ex


def test_a_run_observer_gets_the_last_beat_as_a_heartbeat():
    beats = []

    class Beats(RunObserver):
        def heartbeat_event(self, info, captured_out, beat_time, result):
            beats.append((dict(info), captured_out, result))

    ex = _experiment()
    ex.observers.append(Beats())
    ex.run(options={"--capture": "sys"})
    assert beats[-1] == ({"seen": 1}, "hello\n", 3)


def test_an_observer_of_another_kind_gets_heartbeat_event():
    observer = mock.Mock(priority=0)
    observer.started_event.return_value = 1
    ex = _experiment()
    ex.observers.append(observer)
    ex.run()
    assert observer.heartbeat_event.called
    assert not observer.final_heartbeat_event.called


@pytest.mark.parametrize("fail", [False, True])
def test_sql_writes_the_last_beat_with_the_end_in_one_transaction(tmp_path, fail):
    sa = pytest.importorskip("sqlalchemy")
    from sacred.observers import SqlObserver
    from sacred.store import open_store

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    _experiment().run(options={"--sql": url})  # the tables are made
    observer = SqlObserver(url)
    commits = []
    sa.event.listen(observer.engine, "commit", lambda conn: commits.append(1))
    ex = _experiment(fail)
    ex.observers.append(observer)
    try:
        ex.run(options={"--capture": "sys"})
    except ValueError:
        assert fail
    # the start, then the last beat with the end (the run is shorter than a beat)
    assert len(commits) == 2
    record = open_store(url).get(2)
    assert record["status"] == ("FAILED" if fail else "COMPLETED")
    assert record["info"] == {"seen": 1}
    assert record["captured_out"] == "hello\n"
    assert record["heartbeat"] is not None
    assert record["result"] == (None if fail else 3)
