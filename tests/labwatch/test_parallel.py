"""Several worker processes sharing one store: suggestions and the queue."""

import os
import subprocess
import sys
import textwrap

import pytest

from sacred.store import open_store

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

WORKER = textwrap.dedent(
    """
    import sys
    from sacred import Experiment
    from labwatch import LabAssistant
    from labwatch.hyperparameters import UniformFloat, UniformInt
    from labwatch.optimizers import RandomSearch

    location, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ex = Experiment("parallel")
    a = LabAssistant(ex, store=location, optimizer=RandomSearch)

    @ex.config
    def cfg():
        x = 0.0
        k = 1

    @a.search_space
    def space():
        x = UniformFloat(-5, 5)
        k = UniformInt(1, 1000)

    @ex.main
    def main(x, k):
        return x * x + k

    if mode == "suggest":
        for _ in range(count):
            a.run_suggestion()
    elif mode == "enqueue":
        for _ in range(count):
            a.enqueue_suggestion()
    else:
        while True:
            run = a.run_from_queue(wait_time_in_s=0, sleep_time=0)
            if run is None:
                break
            print("RAN", run._id, run.meta_info["labwatch"]["queued_run"], flush=True)
    """
)


@pytest.fixture(params=["folder", "sqlite"])
def location(request, tmp_path):
    if request.param == "folder":
        return str(tmp_path / "runs")
    pytest.importorskip("sqlalchemy")
    return f"sqlite:///{tmp_path / 'runs.db'}"


def _start(tmp_path, location, mode, count):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.Popen(
        [sys.executable, str(script), location, mode, str(count)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(procs):
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(out)
    return outs


def test_three_workers_ten_suggestions_each(tmp_path, location):
    _wait([_start(tmp_path, location, "suggest", 10) for _ in range(3)])
    store = open_store(location)
    runs = store.find("status == 'COMPLETED'")
    assert len(runs) == 30
    assert len({r["_id"] for r in runs}) == 30
    assert len({(r["config"]["x"], r["config"]["k"]) for r in runs}) == 30
    assert len({r["info"]["labwatch"]["search_space"] for r in runs}) == 1


def test_three_workers_share_a_queue_without_duplicate_claims(tmp_path, location):
    _wait([_start(tmp_path, location, "enqueue", 30)])
    store = open_store(location)
    queued = store.find("status == 'QUEUED'")
    assert len(queued) == 30
    queued_ids = {str(r["_id"]) for r in queued}
    queued_configs = {(r["config"]["x"], r["config"]["k"]) for r in queued}
    outs = _wait([_start(tmp_path, location, "work", 0) for _ in range(3)])
    claims = [
        line.split()[2] for out in outs for line in out.splitlines() if line.startswith("RAN")
    ]
    assert sorted(claims) == sorted(queued_ids)  # every queued run exactly once
    assert all(out.count("RAN") > 0 for out in outs) or len(claims) == 30
    store = open_store(location)
    assert store.count("status == 'QUEUED'") == 0
    done = store.find("status == 'COMPLETED'")
    assert len(done) == 30
    assert {(r["config"]["x"], r["config"]["k"]) for r in done} == queued_configs
    assert all(r["info"]["labwatch"]["name"] == "space" for r in done)
