"""The continue-an-existing-record path on every store kind: a resumed run and a claimed
QUEUED run keep their id, and the record reads back whole (one run, contiguous metric steps,
both output segments, the artifacts of both segments)."""

import pytest

from sacred import Experiment
from sacred.continuation import Continuation, segments_of
from sacred.launch.script import run_in_store
from tests.sacred.store.conftest import STORE_KINDS


@pytest.fixture(params=sorted(STORE_KINDS))
def kind(request):
    return request.param


def _experiment(tmp_path, make_observer, state):
    ex = Experiment("resumable", base_dir=str(tmp_path))
    ex.observers.append(make_observer(tmp_path))

    @ex.config
    def cfg():
        steps = 6
        crash_at = 3

    @ex.main
    def main(_run, steps, crash_at):
        last = _run.last_step("loss")
        start = 0 if last is None else last + 1
        print(f"starting at {start}")
        part = tmp_path / f"part{start}.txt"
        part.write_text(f"from step {start}\n")
        _run.add_artifact(str(part), f"part{start}.txt")
        for i in range(start, steps):
            if i == crash_at and not state.get("fixed"):
                raise RuntimeError("crashed on purpose")
            _run.log_scalar("loss", 1.0 / (i + 1))
        return steps

    return ex


def test_a_failed_run_resumes_under_its_id(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    state = {}
    with pytest.raises(RuntimeError):
        _experiment(tmp_path, make_observer, state).run(options={"--capture": "sys"})
    store = open_(tmp_path)
    (run_id,) = store.find_ids()
    assert store.get(run_id)["status"] == "FAILED"
    first_config = store.get(run_id)["config"]

    state["fixed"] = True
    run = _experiment(tmp_path, make_observer, state).run(
        resume=run_id, options={"--capture": "sys"}
    )
    assert run._id == run_id and run.result == 6

    store = open_(tmp_path)
    assert store.find_ids() == [run_id]
    record = store.get(run_id)
    assert record["status"] == "COMPLETED"
    assert record["config"] == first_config
    assert store.metrics(run_id)["loss"]["steps"] == [0, 1, 2, 3, 4, 5]
    out = record["captured_out"]
    assert out.index("starting at 0") < out.index("--- resumed (segment 2)")
    assert out.index("--- resumed (segment 2)") < out.index("starting at 3")
    assert [s["status"] for s in segments_of(record)] == ["FAILED", "COMPLETED"]
    assert sorted(store.artifacts(run_id)) == ["part0.txt", "part3.txt"]
    assert store.open_artifact(run_id, "part0.txt").read() == b"from step 0\n"


def test_a_claimed_queued_run_runs_under_its_id(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    state = {"fixed": True}
    queued = _experiment(tmp_path, make_observer, state).run(
        config_updates={"steps": 4}, options={"--queue": True}
    )
    store = open_(tmp_path)
    (qid,) = store.find_ids()
    assert str(queued._id) == str(qid)
    assert qid is not None and store.get(qid)["status"] == "QUEUED"

    assert store.claim(qid, 1, "worker-1") is True
    assert store.claim(qid, 1, "worker-2") is False
    claims = store.claims(qid)
    assert [(c["attempt"], c["worker"]) for c in claims] == [(1, "worker-1")]

    continuation = Continuation.queued(
        store.get(qid), meta_updates={"claims": [{"attempt": 1, "worker": "worker-1"}]}
    )
    ex = _experiment(tmp_path, make_observer, state)
    run = run_in_store(
        ex,
        make_observer(tmp_path),
        command=continuation.command,
        config_updates=continuation.config,
        options={"--capture": "sys"},
        continuation=continuation,
    )
    assert str(run._id) == str(qid) and run.result == 4

    store = open_(tmp_path)
    assert store.find_ids() == [qid]
    record = store.get(qid)
    assert record["status"] == "COMPLETED"
    assert record["config"]["steps"] == 4
    assert record["meta"]["claims"] == [{"attempt": 1, "worker": "worker-1"}]
    assert store.metrics(qid)["loss"]["steps"] == [0, 1, 2, 3]
    assert "starting at 0" in record["captured_out"]
    assert "resumed" not in record["captured_out"]


def test_a_checkpoint_replaces_the_last_and_a_resumed_run_reads_the_newest(kind, tmp_path):
    make_observer, open_ = STORE_KINDS[kind]
    state = {}

    def experiment():
        ex = Experiment("checkpointed", base_dir=str(tmp_path))
        ex.observers.append(make_observer(tmp_path))

        @ex.main
        def main(_run):
            checkpoint = _run.open_checkpoint()
            start = int(checkpoint.read()) + 1 if checkpoint is not None else 0
            state.setdefault("starts", []).append(start)
            for epoch in range(start, 5):
                if epoch == 3 and not state.get("fixed"):
                    raise RuntimeError("preempted")
                _run.save_checkpoint(str(epoch).encode())
            return start

        return ex

    with pytest.raises(RuntimeError):
        experiment().run(options={"--capture": "sys"})
    store = open_(tmp_path)
    (run_id,) = store.find_ids()
    assert store.artifacts(run_id) == ["checkpoint"]
    assert store.open_artifact(run_id, "checkpoint").read() == b"2"
    state["fixed"] = True
    assert experiment().run(resume=run_id, options={"--capture": "sys"}).result == 3
    assert state["starts"] == [0, 3]
    store = open_(tmp_path)
    assert store.artifacts(run_id) == ["checkpoint"]
    assert store.open_artifact(run_id, "checkpoint").read() == b"4"
