"""Every run is kept apart: one observer for several runs, runs in threads, and runs in
several processes writing into the same store."""

import json
import threading

import pytest

from tests.conformance.backends import MONGOMOCK_IN_MEMORY, ids, kinds, start_child, wait_for
from tests.conformance.experiments import check_run, experiment, run


@pytest.mark.parametrize("kind", kinds())
def test_one_observer_serves_several_runs(backend):
    """A notebook's habit: ex.observers.append(obs), then ex.run() three times."""
    ex = experiment()
    ex.observers.append(backend.observer())
    run_ids = [run(ex, tag, n)._id for n, tag in enumerate(["first", "second", "third"], 1)]
    assert len(set(run_ids)) == 3, run_ids
    with backend.store() as store:
        assert ids(store.find_ids()) == ids(run_ids)
        for n, (tag, run_id) in enumerate(zip(["first", "second", "third"], run_ids), 1):
            check_run(store, run_id, tag, n)


@pytest.mark.parametrize("kind", kinds())
def test_runs_in_threads_at_once(backend):
    """Four runs in threads, each with its own observer, that start at the same moment and
    are all in the middle of their run at the same moment.

    Their output is not captured: stdout is one per process, so with ``--capture sys`` each
    run would record what every thread prints (as in the original), and today's tee of
    sys.stdout crashes the interpreter when threads print at once (reported apart: it is no
    backend's doing)."""
    tags = ["t1", "t2", "t3", "t4"]
    start, barrier = threading.Barrier(len(tags)), threading.Barrier(len(tags))
    run_ids, errors = {}, []

    def one(n, tag):
        try:
            ex = experiment(barrier=barrier)
            ex.observers.append(backend.observer())
            start.wait(timeout=60)
            run_ids[tag] = run(ex, tag, n, points=6, **{"--capture": "no"})._id
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)
            start.abort()
            barrier.abort()

    threads = [threading.Thread(target=one, args=(n, tag)) for n, tag in enumerate(tags, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(set(ids(run_ids.values()))) == len(tags), run_ids
    with backend.store() as store:
        assert ids(store.find_ids()) == ids(run_ids.values())
        for n, tag in enumerate(tags, 1):
            check_run(store, run_ids[tag], tag, n, points=6, output="")


PROCESSES, RUNS_EACH = 4, 3


@pytest.mark.parametrize(
    "kind",
    kinds(
        mongomock=MONGOMOCK_IN_MEMORY,
        mongomock_queued=MONGOMOCK_IN_MEMORY,
    ),
)
def test_runs_in_several_processes(backend):
    """Four processes run three runs each into the same store; their first runs start at
    the same moment, then their second runs, then their third."""
    names = [f"p{i}" for i in range(PROCESSES)]
    children = [
        start_child(backend, "runs", name, RUNS_EACH, 10 * i) for i, name in enumerate(names)
    ]
    try:
        for i in range(RUNS_EACH):  # the i-th runs of all processes start together
            for name in names:
                wait_for(backend.path / f"{name}.ready{i}", children)
            (backend.path / f"go{i}").touch()
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err[-3000:]
    finally:
        for child in children:
            child.kill()
    run_ids = {}
    for name in names:
        run_ids.update(json.loads((backend.path / f"{name}.json").read_text()))
    assert len(set(ids(run_ids.values()))) == PROCESSES * RUNS_EACH, run_ids
    with backend.store() as store:
        assert ids(store.find_ids()) == ids(run_ids.values())
        for i, name in enumerate(names):
            for j in range(RUNS_EACH):
                check_run(store, run_ids[f"{name}-{j}"], f"{name}-{j}", 10 * i + j)
