"""Queue workers on SQL stores, end to end: ``sacred queue URL exp.py with a=...`` 30 times,
then 3 ``sacred worker URL --idle-exit 2`` processes give 30 COMPLETED runs, each run once
under its queued id (one claim each), on SQLite and on a real PostgreSQL server."""

import collections
import contextlib
import io
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from sacred.store import open_store
from sacred.store.cli import main as sacred_main
from tests.services import service_url

sa = pytest.importorskip("sqlalchemy")
psycopg = pytest.importorskip("psycopg")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

SCRIPT = textwrap.dedent(
    """
    import os
    from sacred import Experiment

    ex = Experiment("trivial")


    @ex.config
    def cfg():
        a = 0


    @ex.automain
    def main(a, _run):
        print(f"a={a} in {os.getpid()}")
        return a * 2
    """
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.db'}"
        return
    server = service_url("SACRED_TEST_POSTGRES_URL")
    name = f"sacred_workers_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    yield sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sacred(*argv):
    """``sacred ARGV`` in this process: (exit code, what it printed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = sacred_main([str(a) for a in argv])
    return code, out.getvalue()


@pytest.mark.slow
def test_three_workers_run_thirty_queued_runs_each_once(db_url, tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(SCRIPT)
    queued = []
    for a in range(30):
        code, text = _sacred("queue", db_url, script, "with", f"a={a}")
        assert code == 0 and text.startswith("Queued run "), text
        queued.append(int(text.split()[2]))
    store = open_store(db_url)
    assert sorted(queued) == list(range(1, 31))
    assert store.count("status == 'QUEUED'") == 30

    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "sacred.store.cli", "worker", db_url, "--idle-exit", "2"],
            cwd=str(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0, 0], [e[-3000:] for _, e in outputs]

    records = store.find("status == 'COMPLETED'")
    assert sorted(r["_id"] for r in records) == queued  # under their queued ids, no others
    assert store.count() == 30
    by_worker = collections.Counter()
    for record in records:
        (claim,) = record["meta"]["claims"]  # run once
        assert claim["attempt"] == 1
        by_worker[claim["worker"]] += 1
        assert [c["worker"] for c in store.claims(record["_id"])] == [claim["worker"]]
        a = record["config"]["a"]
        assert record["result"] == 2 * a
        pid = claim["worker"].rsplit(":", 1)[1]
        assert f"a={a} in {pid}\n" in record["captured_out"]  # its worker ran it
    assert sum(by_worker.values()) == 30 and len(by_worker) >= 2  # they shared the queue
    for out, _ in outputs:
        name = next(line.split()[1] for line in out.splitlines() if line.startswith("Worker "))
        done = out.count(": COMPLETED")
        assert done == by_worker[name], out
        assert f"Worker {name}: {done} run(s), 0 not completed" in out
    store.close()
