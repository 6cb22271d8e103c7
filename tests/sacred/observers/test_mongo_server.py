"""MongoObserver against a real MongoDB server, only when SACRED_TEST_MONGO_URL is set.

There is no MongoDB server in CI (the other Mongo tests use mongomock); set e.g.
``SACRED_TEST_MONGO_URL=mongodb://127.0.0.1:27017`` to run these.
"""

import os
import subprocess
import sys
import textwrap
import uuid

import pytest

URL = os.environ.get("SACRED_TEST_MONGO_URL")
pytestmark = pytest.mark.skipif(not URL, reason="SACRED_TEST_MONGO_URL is not set")


@pytest.fixture
def db_name():
    import pymongo

    name = f"sacred_test_{uuid.uuid4().hex[:12]}"
    yield name
    pymongo.MongoClient(URL).drop_database(name)


SCRIPT = textwrap.dedent(
    """
    import sys
    from sacred import Experiment
    from sacred.observers import MongoObserver

    ex = Experiment("concurrent")
    ex.observers.append(MongoObserver(url=sys.argv[1], db_name=sys.argv[2]))

    @ex.main
    def main(_run):
        for i in range(10):
            _run.log_scalar("m", i)
        print("run output")
        return 1

    ex.run(options={"--capture": "sys"})
    """
)


def test_concurrent_processes_get_unique_ids_on_a_real_server(tmp_path, db_name):
    import pymongo

    script = tmp_path / "concurrent.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    procs = [
        subprocess.Popen([sys.executable, str(script), URL, db_name], env=env) for _ in range(8)
    ]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    runs = pymongo.MongoClient(URL)[db_name].runs
    docs = list(runs.find())
    assert sorted(d["_id"] for d in docs) == list(range(1, 9))
    assert all(d["status"] == "COMPLETED" and d["captured_out"] == "run output\n" for d in docs)
    metrics = pymongo.MongoClient(URL)[db_name].metrics
    assert metrics.count_documents({}) == 8


def test_output_beyond_16mb_and_append_pipeline_on_a_real_server(tmp_path, db_name):
    import pymongo

    from sacred import Experiment
    from sacred.observers.mongo import MongoObserver, read_run

    client = pymongo.MongoClient(URL)
    ex = Experiment("big", base_dir=str(tmp_path))
    obs = MongoObserver(client=client, db_name=db_name)
    ex.observers.append(obs)
    chunk = "x" * (1 << 20)

    @ex.main
    def main(_run):
        print("start")
        _run._emit_heartbeat()
        print("more")
        _run._emit_heartbeat()  # appended with $concat
        for _ in range(17):
            sys.stdout.write(chunk)

    run = ex.run(options={"--capture": "sys"})
    assert obs._document.pipeline_ok
    doc = read_run(client[db_name].runs, run._id)
    assert doc["status"] == "COMPLETED"
    assert doc["captured_out"] == "start\nmore\n" + chunk * 17
