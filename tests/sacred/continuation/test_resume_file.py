"""Resume a run under its id (the continue-an-existing-record path), folder store."""

import pytest

from sacred import Experiment
from sacred.continuation import ContinuationError, segments_of
from sacred.observers import FileStorageObserver
from sacred.store import open_store


def _experiment(tmp_path, state):
    ex = Experiment("resumable", base_dir=str(tmp_path))
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))

    @ex.config
    def cfg():
        steps = 6
        crash_at = 3

    @ex.main
    def main(_run, steps, crash_at):
        start = 0 if _run.last_step("loss") is None else _run.last_step("loss") + 1
        state.setdefault("resumed", []).append(_run.resumed)
        print(f"starting at {start}")
        for i in range(start, steps):
            if i == crash_at and not state.get("fixed"):
                raise RuntimeError("crashed on purpose")
            _run.log_scalar("loss", 1.0 / (i + 1))
        return steps

    return ex


def test_failed_run_resumes_to_completed_under_the_same_id(tmp_path):
    state = {}
    ex = _experiment(tmp_path, state)
    with pytest.raises(RuntimeError):
        ex.run(options={"--capture": "sys"})
    store = open_store(str(tmp_path / "runs"))
    first = store.get(1)
    assert first["status"] == "FAILED"
    assert store.metrics(1)["loss"]["steps"] == [0, 1, 2]

    state["fixed"] = True
    run = ex.run(resume=1, options={"--capture": "sys"})
    assert run._id == 1 and run.result == 6
    assert state["resumed"] == [False, True]

    record = store.get(1)
    assert record["status"] == "COMPLETED"
    assert store.find_ids() == [1]  # no second record
    assert store.metrics(1)["loss"]["steps"] == [0, 1, 2, 3, 4, 5]
    out = record["captured_out"]
    assert (
        out.index("starting at 0")
        < out.index("--- resumed (segment 2)")
        < out.index("starting at 3")
    )
    segments = segments_of(record)
    assert [s["status"] for s in segments] == ["FAILED", "COMPLETED"]
    assert "crashed on purpose" in segments[0]["error"]
    assert all(s["start"] and s["stop"] for s in segments)
    assert record["config"] == first["config"]  # config and seed restored


def test_resume_refuses_completed_runs_and_config_changes(tmp_path):
    state = {"fixed": True}
    ex = _experiment(tmp_path, state)
    ex.run()
    with pytest.raises(ContinuationError, match="is COMPLETED"):
        ex.run(resume=1)
    state["fixed"] = False
    with pytest.raises(RuntimeError):
        ex.run(config_updates={"steps": 5})
    with pytest.raises(ContinuationError, match="cannot change steps"):
        ex.run(resume=2, config_updates={"steps": 7})
    state["fixed"] = True
    run = ex.run(resume=2, config_updates={"steps": 7}, options={"--force": True})
    assert run.result == 7 and run._id == 2


def test_resume_of_a_missing_run_is_one_line(tmp_path):
    ex = _experiment(tmp_path, {})
    (tmp_path / "runs").mkdir()
    with pytest.raises(ContinuationError, match="There is no run 9 to resume"):
        ex.run(resume=9)


def test_a_queue_observer_continues_the_record_of_the_observer_it_covers(tmp_path):
    from sacred.observers import QueueObserver

    state = {}
    ex = _experiment(tmp_path, state)
    with pytest.raises(RuntimeError):
        ex.run(options={"--capture": "sys"})
    state["fixed"] = True
    ex.observers[:] = [QueueObserver(FileStorageObserver(str(tmp_path / "runs")), interval=0.05)]
    run = ex.run(resume=1, options={"--capture": "sys"})
    assert run._id == 1
    store = open_store(str(tmp_path / "runs"))
    assert store.get(1)["status"] == "COMPLETED"
    assert store.metrics(1)["loss"]["steps"] == [0, 1, 2, 3, 4, 5]


def test_an_observer_that_cannot_continue_stops_the_run_with_one_line(tmp_path):
    from sacred.observers import RunObserver
    from sacred.observers.base import CannotContinueError

    class Printer(RunObserver):
        def started_event(self, *args, **kwargs):
            return None

    state = {}
    ex = _experiment(tmp_path, state)
    with pytest.raises(RuntimeError):
        ex.run(options={"--capture": "sys"})
    ex.observers.append(Printer())
    with pytest.raises(CannotContinueError, match="The observer Printer cannot continue"):
        ex.run(resume=1)
    record = open_store(str(tmp_path / "runs")).get(1)
    assert record["status"] == "FAILED"
    assert "segments" not in record["meta"]  # refused before the record was touched


def test_checkpoints_replace_each_other_and_a_resumed_run_reads_the_newest(tmp_path):
    state = {}
    ex = Experiment("checkpointed", base_dir=str(tmp_path))
    ex.observers.append(FileStorageObserver(str(tmp_path / "runs")))

    @ex.main
    def main(_run):
        checkpoint = _run.open_checkpoint()
        start = int(checkpoint.read()) + 1 if checkpoint is not None else 0
        state.setdefault("starts", []).append(start)
        for epoch in range(start, 5):
            if epoch == 3 and not state.get("fixed"):
                raise RuntimeError("preempted")
            _run.save_checkpoint(str(epoch).encode())
        model = tmp_path / "model.bin"
        model.write_bytes(b"final")
        _run.save_checkpoint(str(model), name="model")
        return start

    with pytest.raises(RuntimeError):
        ex.run()
    store = open_store(str(tmp_path / "runs"))
    assert store.artifacts(1) == ["checkpoint"]
    assert store.open_artifact(1, "checkpoint").read() == b"2"
    state["fixed"] = True
    assert ex.run(resume=1).result == 3
    assert state["starts"] == [0, 3]
    assert store.artifacts(1) == ["checkpoint", "model"]
    assert store.open_artifact(1, "checkpoint").read() == b"4"


def test_a_continued_run_journaled_by_a_queue_observer_syncs_into_its_own_record(tmp_path):
    from sacred.observers import QueueObserver, journal

    class Flaky(FileStorageObserver):
        """Takes the continued start, then fails every later event (the disk went away)."""

        def heartbeat_event(self, *args, **kwargs):
            raise OSError("disk gone")

        def completed_event(self, *args, **kwargs):
            raise OSError("disk gone")

        def log_metrics(self, *args, **kwargs):
            raise OSError("disk gone")

    state = {}
    ex = _experiment(tmp_path, state)
    with pytest.raises(RuntimeError):
        ex.run(options={"--capture": "sys"})
    state["fixed"] = True
    queued = QueueObserver(
        Flaky(str(tmp_path / "runs")),
        interval=0.01,
        retry_interval=0.01,
        join_timeout=0.3,
        failure_dir=str(tmp_path / "failures"),
    )
    ex.observers[:] = [queued]
    ex.run(resume=1, options={"--capture": "sys"})
    assert queued.failure_file is not None
    store = open_store(str(tmp_path / "runs"))
    assert store.get(1)["status"] == "RUNNING"  # the end never arrived

    journal.sync(queued.failure_file, FileStorageObserver(str(tmp_path / "runs")))
    assert store.find_ids() == [1]  # continued, not a second run
    record = store.get(1)
    assert record["status"] == "COMPLETED"
    assert store.metrics(1)["loss"]["steps"] == [0, 1, 2, 3, 4, 5]
