"""SqlObserver against real databases: SQLite files and a real PostgreSQL server.

PostgreSQL comes from scripts/services.sh (SACRED_TEST_POSTGRES_URL); every test gets a
fresh database. The outage tests start (and stop) a private PostgreSQL of their own.
"""

import datetime
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

import pytest

from sacred import Experiment
from sacred.observers.sql import DEFAULT_SQL_PRIORITY, SqlObserver, replay_failed_events
from sacred.utils import ObserverError, SacredInterrupt, TimeoutInterrupt
from tests.services import service_url

sa = pytest.importorskip("sqlalchemy")
psycopg = pytest.importorskip("psycopg")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- databases
def _with_database(url, name):
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)


def _fresh_pg_database(server_url):
    name = f"sacred_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop_pg_database(server_url, name):
    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url():
    server = service_url("SACRED_TEST_POSTGRES_URL")
    name = _fresh_pg_database(server)
    yield _with_database(server, name)
    _drop_pg_database(server, name)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return request.getfixturevalue("pg_url")


def raw(url, sql, **params):
    """Rows of a plain SQL query, through a separate engine."""
    engine = sa.create_engine(SqlObserver(url).engine.url)
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def make_experiment(url, beat_interval=None, **observer_kwargs):
    ex = Experiment("sql_demo", base_dir=HERE)
    obs = SqlObserver(url, **observer_kwargs)
    ex.observers.append(obs)
    return ex, obs


RUN_OPTIONS = {"--capture": "sys"}


def meta_of(run):
    """The run's meta that the SqlObserver keeps in ``run.meta_json``."""
    keep = ("options", "named_configs", "config_updates")
    return {k: v for k, v in run.meta_info.items() if k in keep}


# ---------------------------------------------------------------- end to end
def test_completed_run_is_stored_as_the_original_and_more(db_url, tmp_path):
    artifact = tmp_path / "model.txt"
    artifact.write_text("weights")
    resource = tmp_path / "data.csv"
    resource.write_text("a,b\n1,2\n")
    ex, obs = make_experiment(db_url)

    @ex.config
    def cfg():
        lr = 0.1  # noqa: F841
        layers = (3, 4)  # noqa: F841

    @ex.main
    def main(_run, lr):
        print("training with", lr)
        for i in range(5):
            _run.log_scalar("loss", 1.0 / (i + 1))
        _run.log_scalar("acc", 0.5, step=10)
        _run.info["best"] = {"epoch": 3}
        _run.add_artifact(str(artifact))
        _run.add_resource(str(resource))
        return {"acc": 0.5, "labels": ["a", "b"]}

    run = ex.run(options=RUN_OPTIONS)
    assert run._id == 1
    doc = obs.query(run._id)
    assert set(doc) == {
        "_id", "command", "start_time", "heartbeat", "stop_time", "queue_time", "status",
        "result", "meta", "resources", "artifacts", "host", "experiment", "config",
        "captured_out", "fail_trace",
    }  # fmt: skip
    assert doc["_id"] == "1"
    assert doc["command"] == "main"
    assert doc["status"] == "COMPLETED"
    assert doc["result"] == {"acc": 0.5, "labels": ["a", "b"]}
    assert doc["config"] == {"lr": 0.1, "layers": [3, 4], "seed": run.config["seed"]}
    # the original's meta columns, and (added, in run.meta_json) the command line's meta
    assert doc["meta"] == {"comment": "", "priority": 0.0, **meta_of(run)}
    assert doc["queue_time"] is None and doc["fail_trace"] is None
    assert doc["start_time"] == run.start_time and doc["stop_time"] == run.stop_time
    assert doc["heartbeat"] >= doc["stop_time"] - datetime.timedelta(seconds=1)
    assert "training with 0.1\n" in doc["captured_out"]
    assert doc["artifacts"] == [{"_id": 1, "filename": "model.txt"}]
    md5 = hashlib.md5(b"a,b\n1,2\n").hexdigest()
    assert doc["resources"] == [{"filename": str(resource), "md5sum": md5}]
    assert doc["host"]["hostname"] == run.host_info["hostname"]
    assert doc["host"]["os"] == list(run.host_info["os"])
    this_file = os.path.basename(__file__)
    assert doc["experiment"]["name"] == "sql_demo"
    assert doc["experiment"]["base_dir"] == HERE[:64]
    assert {"filename": this_file, "md5sum": dict(run.experiment_info["sources"])[this_file]} in (
        doc["experiment"]["sources"]
    )
    assert "sacred==0.9.0" in doc["experiment"]["dependencies"]

    # the same through plain SQL
    status, result, result_json, info, config = raw(
        db_url, "SELECT status, result, result_json, info, config FROM run WHERE run_id = '1'"
    )[0]
    assert status == "COMPLETED"
    assert result is None  # the original Float column only takes numbers
    assert json.loads(result_json) == {"acc": 0.5, "labels": ["a", "b"]}
    assert json.loads(info) == {"best": {"epoch": 3}}
    assert json.loads(config)["layers"] == [3, 4]
    assert raw(db_url, "SELECT filename, content FROM artifact") == [("model.txt", b"weights")]
    rows = raw(
        db_url,
        "SELECT name, step, value, timestamp FROM metric WHERE run_id = '1' ORDER BY metric_id",
    )
    assert [r[:3] for r in rows] == [
        ("loss", 0, 1.0), ("loss", 1, 0.5), ("loss", 2, 1 / 3), ("loss", 3, 0.25),
        ("loss", 4, 0.2), ("acc", 10, 0.5),
    ]  # fmt: skip
    start = (run.start_time - datetime.datetime(1970, 1, 1)).total_seconds()
    assert all(start <= r[3] <= start + 60 for r in rows)
    metrics = obs.query_metrics("1")
    assert metrics["loss"]["steps"] == [0, 1, 2, 3, 4]
    assert metrics["acc"] == {
        "steps": [10],
        "values": [0.5],
        "timestamps": [metrics["acc"]["timestamps"][0]],
    }
    assert run.start_time <= metrics["acc"]["timestamps"][0] <= run.stop_time


def test_tables_and_columns_are_those_of_the_original(db_url):
    ex, obs = make_experiment(db_url)
    ex.main(lambda: None)
    ex.run()
    inspector = sa.inspect(obs.engine)
    assert set(inspector.get_table_names()) == {
        "source", "repository", "dependency", "artifact", "resource", "host", "experiment",
        "experiments_sources", "experiments_repositories", "experiments_dependencies",
        "runs_resources", "run", "metric", "metric_chunk", "output_chunk", "journal_event",
    }  # fmt: skip
    columns = {c["name"]: c for c in inspector.get_columns("run")}
    assert list(columns) == [
        "id", "run_id", "command", "start_time", "heartbeat", "stop_time", "queue_time",
        "priority", "comment", "fail_trace", "captured_out", "config", "info", "status",
        "host_id", "experiment_id", "result", "result_json", "meta_json",
    ]  # fmt: skip
    assert columns["run_id"]["type"].length == 24
    assert columns["command"]["type"].length == 64
    assert isinstance(columns["result"]["type"], (sa.Float, sa.REAL, sa.Double))
    assert [c["name"] for c in inspector.get_columns("host")] == [
        "host_id", "cpu", "hostname", "os", "os_info", "python_version",
    ]  # fmt: skip
    assert [c["name"] for c in inspector.get_columns("metric")] == [
        "metric_id", "run_id", "name", "step", "value", "timestamp",
    ]  # fmt: skip
    # PostgreSQL needs metric_id in the index to find a metric's first and last row
    postgresql = obs.engine.dialect.name == "postgresql"
    assert {tuple(i["column_names"]) for i in inspector.get_indexes("metric")} == {
        ("run_id", "name", "metric_id") if postgresql else ("run_id", "name")
    }
    if obs.engine.dialect.name == "postgresql":
        labels = raw(
            db_url,
            "SELECT enumlabel FROM pg_enum JOIN pg_type ON pg_type.oid = enumtypid "
            "WHERE typname = 'status_enum' ORDER BY enumsortorder",
        )
        assert [r[0] for r in labels] == [
            "RUNNING", "COMPLETED", "INTERRUPTED", "TIMEOUT", "FAILED", "QUEUED",
        ]  # fmt: skip


def test_auto_ids_count_1_2_3(sqlite_url):
    """The original gives 0, 2, 3 (max of the row key + 1, from 0): an obvious bug."""
    ex, obs = make_experiment(sqlite_url)
    ex.main(lambda: None)
    assert [ex.run()._id for _ in range(3)] == [1, 2, 3]
    assert raw(sqlite_url, "SELECT id, run_id FROM run ORDER BY id") == [
        (1, "1"), (2, "2"), (3, "3"),
    ]  # fmt: skip


def test_auto_ids_continue_a_database_the_original_wrote(sqlite_url):
    ex, obs = make_experiment(sqlite_url)
    ex.main(lambda: None)
    ex.run()
    with sa.create_engine(sqlite_url).begin() as con:  # the original's ids: 0, 2, 3
        con.execute(sa.text("UPDATE run SET run_id = '0'"))
        for _ in range(2):
            con.execute(
                sa.text(
                    "INSERT INTO run (run_id, config, status, host_id, experiment_id) "
                    "SELECT (SELECT max(id) + 1 FROM run), config, status, host_id, "
                    "experiment_id FROM run WHERE id = 1"
                )
            )
    assert raw(sqlite_url, "SELECT id, run_id FROM run ORDER BY id") == [
        (1, "0"), (2, "2"), (3, "3"),
    ]  # fmt: skip
    ex.run(options={"--id": "77"})  # an id given by hand is skipped later
    assert [ex.run()._id for _ in range(2)] == [5, 6]
    assert raw(sqlite_url, "SELECT run_id FROM run ORDER BY id")[-3:] == [("77",), ("5",), ("6",)]


def test_concurrent_starts_get_distinct_ids(sqlite_url, tmp_path):
    script = tmp_path / "exp.py"
    script.write_text(
        "from sacred import Experiment\n"
        "from sacred.observers import SqlObserver\n"
        "ex = Experiment('race')\n"
        f"ex.observers.append(SqlObserver({sqlite_url!r}))\n"
        "ex.main(lambda: None)\n"
        "for _ in range(5):\n"
        "    ex.run()\n"
    )
    procs = [subprocess.Popen([sys.executable, str(script)]) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    ids = [int(r[0]) for r in raw(sqlite_url, "SELECT run_id FROM run")]
    assert sorted(ids) == list(range(1, 21))


def test_a_given_id_is_used_and_a_taken_one_is_refused(sqlite_url):
    ex, obs = make_experiment(sqlite_url)
    ex.main(lambda: None)
    assert ex.run(options={"--id": "my_run"})._id == "my_run"
    assert obs.query("my_run")["status"] == "COMPLETED"
    with pytest.raises(sa.exc.IntegrityError):
        ex.run(options={"--id": "my_run"})
    assert raw(sqlite_url, "SELECT count(*) FROM run") == [(1,)]


def test_failed_run(db_url):
    ex, obs = make_experiment(db_url)

    @ex.main
    def main():
        raise ValueError("broken model")

    with pytest.raises(ValueError):
        ex.run()
    doc = obs.query("1")
    assert doc["status"] == "FAILED"
    assert doc["stop_time"] is not None
    assert doc["fail_trace"].startswith("Traceback (most recent call last):\n")
    assert doc["fail_trace"].rstrip().endswith("ValueError: broken model")


@pytest.mark.parametrize(
    "exception, status",
    [(KeyboardInterrupt, "INTERRUPTED"), (TimeoutInterrupt, "TIMEOUT"), (None, "INTERRUPTED")],
)
def test_interrupted_runs(sqlite_url, exception, status, caplog):
    class Custom(SacredInterrupt):
        STATUS = "MY_STATUS"  # not in the status enum: stored as INTERRUPTED

    exception = exception or Custom
    ex, obs = make_experiment(sqlite_url)

    @ex.main
    def main():
        raise exception()

    with pytest.raises(exception):
        ex.run()
    assert obs.query("1")["status"] == status
    if exception is Custom:
        assert "status 'MY_STATUS' is not one of RUNNING" in caplog.text


def test_queued_run(db_url):
    ex, obs = make_experiment(db_url)
    ex.main(lambda: None)
    run = ex.run(options={"--queue": True, "--comment": "later", "--priority": "2"})
    doc = obs.query(run._id)
    assert doc["status"] == "QUEUED"
    assert doc["start_time"] is None and doc["queue_time"] is None  # like the original
    assert doc["meta"] == {"comment": "later", "priority": 2.0, **meta_of(run)}


@pytest.mark.parametrize(
    "result, column, stored",
    [(3, 3.0, 3), (0.25, 0.25, 0.25), ("text", None, "text"), (None, None, None),
     ((1, 2), None, (1, 2))],
)  # fmt: skip
def test_results_of_any_type_are_kept(sqlite_url, result, column, stored):
    ex, obs = make_experiment(sqlite_url)
    ex.main(lambda: result)
    ex.run()
    assert raw(sqlite_url, "SELECT result FROM run") == [(column,)]
    assert obs.query("1")["result"] == stored


def test_heartbeats_output_info_and_metrics_reach_the_database_while_running(db_url):
    ex, obs = make_experiment(db_url)
    seen = {}

    @ex.main
    def main(_run):
        print("epoch 1 done")
        _run.info["epoch"] = 1
        _run.result = 0.75
        for i in range(3):
            _run.log_scalar("loss", float(i))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            rows = raw(db_url, "SELECT info, captured_out, result, heartbeat FROM run")
            metrics = raw(db_url, "SELECT count(*) FROM metric")
            if rows[0][0] and metrics[0][0] == 3 and "epoch 1" in (rows[0][1] or ""):
                seen["row"], seen["metrics"] = rows[0], metrics[0][0]
                return
            time.sleep(0.05)

    ex.run(options={**RUN_OPTIONS, "--beat-interval": "0.05"})
    info, captured_out, result, heartbeat = seen["row"]
    assert json.loads(info) == {"epoch": 1}
    assert "epoch 1 done\n" in captured_out
    assert result == 0.75
    assert heartbeat is not None


def test_heartbeats_send_only_the_new_output_and_filters_still_work(sqlite_url):
    obs = SqlObserver(sqlite_url)
    ex_info = {
        "name": "direct",
        "base_dir": HERE,
        "sources": [],
        "dependencies": [],
        "repositories": [],
        "mainfile": None,
    }
    host = {"hostname": "h", "cpu": "c", "os": ["Linux", "x"], "python_version": "3"}
    now = datetime.datetime(2026, 11, 27, 22, 43, 50, 227301)
    assert obs.started_event(ex_info, "main", host, now, {"a": 1}, {}, None) == 1
    statements = []
    sa.event.listen(obs.engine, "before_cursor_execute", lambda *a: statements.append((a[2], a[3])))
    obs.heartbeat_event({}, "a" * 1000, now, None)
    del statements[:]
    obs.heartbeat_event({}, "a" * 1000 + "new line\n", now, None)
    params = [p for _, ps in statements for p in ps]
    assert "new line\n" in params and not any("aaa" in str(p) for p in params)  # suffix only
    # appended as an output_chunk row; run.captured_out keeps the prefix until it is rewritten
    assert raw(sqlite_url, "SELECT captured_out FROM run")[0][0] == "a" * 1000
    assert raw(sqlite_url, "SELECT seq, text FROM output_chunk") == [(0, "new line\n")]
    assert obs.query("1")["captured_out"] == "a" * 1000 + "new line\n"
    obs.heartbeat_event({}, "rewritten by a filter\n", now, None)
    assert raw(sqlite_url, "SELECT captured_out FROM run")[0][0] == "rewritten by a filter\n"
    assert raw(sqlite_url, "SELECT count(*) FROM output_chunk") == [(0,)]
    obs.heartbeat_event({}, "rewritten by a filter\nand more\n", now, None)
    obs.completed_event(now, None)
    full = "rewritten by a filter\nand more\n"
    assert raw(sqlite_url, "SELECT captured_out FROM run")[0][0] == full
    assert raw(sqlite_url, "SELECT count(*) FROM output_chunk") == [(0,)]


def test_nul_characters_in_the_output_do_not_break_postgresql(pg_url):
    ex, obs = make_experiment(pg_url)

    @ex.main
    def main():
        print("binary \x00 junk")

    ex.run(options=RUN_OPTIONS)
    assert "binary \ufffd junk" in obs.query("1")["captured_out"]


# ---------------------------------------------------------------- construction, API, CLI
def test_construction_attributes_equality_and_create_from(sqlite_url):
    obs = SqlObserver(sqlite_url)
    assert obs.priority == DEFAULT_SQL_PRIORITY == 40
    assert SqlObserver(sqlite_url, priority=7).priority == 7
    assert obs != SqlObserver(sqlite_url)  # another engine
    twin = SqlObserver.create_from(obs.engine, obs.session)
    assert twin == obs and twin.priority == 40
    assert SqlObserver.create_from(obs.engine, obs.session, priority=3).priority == 3
    assert obs != "sqlite"
    assert not os.path.exists(sqlite_url[len("sqlite:///") :])  # nothing happens before a run


def test_create_is_deprecated(sqlite_url):
    with pytest.warns(DeprecationWarning):
        obs = SqlObserver.create(sqlite_url, priority=5)
    assert obs.priority == 5 and str(obs.engine.url) == sqlite_url


def test_password_is_masked_and_psycopg3_is_used_for_postgresql_urls():
    obs = SqlObserver("postgresql://user:secret@127.0.0.1:5/db")
    assert obs.url == "postgresql+psycopg://user:***@127.0.0.1:5/db"
    assert "secret" not in repr(obs)


def test_sql_option_adds_an_observer(tmp_path, sqlite_url):
    ex = Experiment("cli_demo", base_dir=HERE)
    ex.main(lambda: 42)
    run = ex.run_commandline(["cli_demo.py", "-s", sqlite_url])
    assert [type(o).__name__ for o in run.observers] == ["SqlObserver"]
    assert raw(sqlite_url, "SELECT run_id, status, result FROM run") == [("1", "COMPLETED", 42.0)]
    run = ex.run_commandline(["cli_demo.py", f"--sql={sqlite_url}"])
    assert run._id == 2


def test_import_sacred_does_not_import_sqlalchemy():
    code = (
        "import sys, sacred, sacred.observers\n"
        "from sacred.observers import SqlObserver\n"
        "from sacred.observers.sql import sql_option\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
        "SqlObserver('sqlite://')\n"
        "assert 'sqlalchemy' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ---------------------------------------------------------------- reliability
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_database_does_not_fail_the_run_and_journals_it(tmp_path, caplog):
    port = _free_port()  # nothing listens there
    ex, obs = make_experiment(
        f"postgresql://sacred:secret@127.0.0.1:{port}/runs",
        failure_dir=str(tmp_path),
        retry_timeout=0.2,
        retry_interval=0.1,
    )
    ex.main(lambda: 3)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        run = ex.run()
    assert time.monotonic() - start < 10
    assert run.status == "COMPLETED" and run.result == 3 and run._failed_observers == []
    assert (
        f"SqlObserver: the postgresql database at "
        f"postgresql+psycopg://sacred:***@127.0.0.1:{port}/runs is unreachable"
    ) in caplog.text
    assert "secret" not in caplog.text
    (path,) = tmp_path.glob("sacred_sql_new_*.jsonl")
    assert f"sacred sync {path}" in caplog.text
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["event"] for line in lines] == [
        "started_event",
        "heartbeat_event",
        "completed_event",
    ]
    assert "secret" not in path.read_text()


def test_a_queued_run_still_fails_when_the_database_is_unreachable(tmp_path):
    url = f"sqlite:///{tmp_path}/missing/dir/runs.db"
    ex, obs = make_experiment(url)
    ex.main(lambda: None)
    with pytest.raises(ObserverError, match="cannot reach the sqlite database at sqlite:///"):
        ex.run(options={"--queue": True})


CONCURRENT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from sacred import Experiment
    from sacred.observers import SqlObserver

    ex = Experiment("concurrent")

    @ex.main
    def main():
        return 1

    ex.observers.append(SqlObserver(sys.argv[1]))
    time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
    print(repr(ex.run(options={"--capture": "no"})._id))
    """
)


def test_concurrent_processes_get_unique_ids_on_postgresql(pg_url, tmp_path):
    script = tmp_path / "start_one_run.py"  # not concurrent.py: that shadows the stdlib
    script.write_text(CONCURRENT_SCRIPT)
    n = 8
    start_at = time.time() + 4  # all imported by then: they start their runs together
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), pg_url, str(start_at)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [o[1][-2000:] for o in outputs]
    ids = [str(eval(out.strip())) for out, _ in outputs]
    assert len(set(ids)) == n
    rows = raw(pg_url, "SELECT run_id, status FROM run")
    assert sorted(rows) == sorted((i, "COMPLETED") for i in ids)


# ------------------------------------------- a private PostgreSQL that goes away mid-run
def _pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return found[-1] if found else None


def _as_postgres(command):
    if os.geteuid() == 0:
        args = ["su", "postgres", "-s", "/bin/bash", "-c", command]
    else:
        args = ["bash", "-c", command]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


class PrivatePostgres:
    def __init__(self):
        self.bin = _pg_bin()
        self.dir = tempfile.mkdtemp(prefix="sacred-sql-pg-")
        os.chmod(self.dir, 0o777)
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        _as_postgres(
            f"{self.bin}/initdb -D {self.dir}/data -U postgres --auth=trust >/dev/null 2>&1"
        )
        self.start()

    def start(self):
        _as_postgres(
            f'{self.bin}/pg_ctl -D {self.dir}/data -o "-p {self.port} -k {self.dir} '
            f'-c listen_addresses=127.0.0.1" -l {self.dir}/log -w start'
        )

    def stop(self):
        _as_postgres(f"{self.bin}/pg_ctl -D {self.dir}/data -w stop -m fast")

    def remove(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def private_pg():
    if _pg_bin() is None:
        service_url("SACRED_TEST_PRIVATE_POSTGRES_UNAVAILABLE")  # skips by hand, fails in CI
    server = PrivatePostgres()
    yield server
    server.remove()


@pytest.fixture
def private_pg_url(private_pg):
    name = _fresh_pg_database(private_pg.url)
    yield _with_database(private_pg.url, name)


def _outage_experiment(url, private_pg, artifact, restart_during_run, failure_dir):
    ex, obs = make_experiment(
        url, failure_dir=str(failure_dir), retry_timeout=1.0, retry_interval=0.2
    )

    @ex.main
    def main(_run):
        print("before the outage")
        for i in range(100):
            _run.log_scalar("loss", float(i))
        _run.info["phase"] = "before"
        deadline = time.monotonic() + 20
        while raw(url, "SELECT count(*) FROM metric")[0][0] < 100:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        private_pg.stop()
        print("during the outage")
        for i in range(100, 250):
            _run.log_scalar("loss", float(i))
        _run.info["phase"] = "during"
        _run.add_artifact(str(artifact))
        time.sleep(0.5)  # several heartbeats fail meanwhile
        if restart_during_run:
            private_pg.start()
        print("after the outage")
        for i in range(250, 300):
            _run.log_scalar("loss", float(i))
        _run.info["phase"] = "after"
        return {"score": 0.5}

    return ex, obs


def _check_complete_record(url, obs):
    doc = obs.query("1")
    assert doc["status"] == "COMPLETED"
    assert doc["result"] == {"score": 0.5}
    for text in ("before the outage\n", "during the outage\n", "after the outage\n"):
        assert text in doc["captured_out"]
    assert doc["artifacts"] == [{"_id": 1, "filename": "model.bin"}]
    assert raw(url, "SELECT content FROM artifact") == [(b"\x00weights",)]
    metrics = obs.query_metrics("1")["loss"]
    assert metrics["steps"] == list(range(300))
    assert metrics["values"] == [float(i) for i in range(300)]
    assert json.loads(raw(url, "SELECT info FROM run")[0][0]) == {"phase": "after"}


def test_database_down_for_a_while_mid_run_loses_nothing(
    private_pg, private_pg_url, tmp_path, caplog
):
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"\x00weights")
    failure_dir = tmp_path / "failed"
    ex, obs = _outage_experiment(private_pg_url, private_pg, artifact, True, failure_dir)
    with caplog.at_level(logging.INFO):
        run = ex.run(options={**RUN_OPTIONS, "--beat-interval": "0.1"})
    assert run.status == "COMPLETED" and run._id == 1
    assert "SqlObserver: the database at postgresql+psycopg://postgres@127.0.0" in caplog.text
    assert "is unreachable" in caplog.text and "reachable again" in caplog.text
    assert "failed at some point" not in caplog.text
    assert not any(f.endswith(".jsonl") for f in os.listdir(failure_dir))
    _check_complete_record(private_pg_url, obs)


def test_database_gone_until_the_end_keeps_events_in_a_file_to_replay(
    private_pg, private_pg_url, tmp_path, caplog
):
    artifact = tmp_path / "model.bin"
    artifact.write_bytes(b"\x00weights")
    failure_dir = tmp_path / "failed"
    ex, obs = _outage_experiment(private_pg_url, private_pg, artifact, False, failure_dir)
    try:
        with caplog.at_level(logging.WARNING):
            run = ex.run(options={**RUN_OPTIONS, "--beat-interval": "0.1"})
    finally:
        private_pg.start()
    artifact.unlink()  # the fallback kept its own copy
    assert run.status == "COMPLETED" and run.result == {"score": 0.5}
    assert "failed at some point" not in caplog.text
    match = re.search(r"are kept in (\S+\.jsonl); write them into the database", caplog.text)
    assert match, caplog.text
    path = match.group(1)
    assert os.path.dirname(path) == str(failure_dir)
    assert f"sacred sync {path}" in caplog.text
    records = [json.loads(line) for line in open(path)]
    assert {r["run"] for r in records} == {"1"} and len({r["journal"] for r in records}) == 1
    assert {r["store"] for r in records} == {obs.url}
    events = [r["event"] for r in records]
    assert events[0] == "started_event" and records[0]["delivered"] is True
    assert events[-1] == "completed_event"
    assert "artifact_event" in events and "log_metrics" in events
    assert events.count("heartbeat_event") == 1  # newer heartbeats replace older ones

    # before the sync the database only has what was written before the outage
    assert obs.query("1")["status"] == "RUNNING"
    assert len(obs.query_metrics("1")["loss"]["steps"]) == 100

    # the start is there already; twice: nothing is written again (not by renaming)
    assert replay_failed_events(path, private_pg_url) == len(records) - 1
    assert replay_failed_events(path, private_pg_url) == 0
    assert os.path.exists(path)
    _check_complete_record(private_pg_url, obs)


def test_metric_chunks_are_a_packed_copy_of_the_rows(db_url):
    from sacred.observers.sql.schema import unpack

    ex, obs = make_experiment(db_url)

    @ex.main
    def main(_run):
        for i in range(5):
            _run.log_scalar("loss", 1.0 / (i + 1), 10 - i)  # steps going back
        _run.log_scalar("loss", float("nan"), 20)
        _run.log_scalar("acc", 3, 1)  # an int value
        _run.log_scalar("odd", 0.5, 1.5)  # a step that is no integer: not packed
        for i in range(4):
            _run.log_scalar("auto", i / 2)  # consecutive steps: kept as the first one
        _run.log_scalar("gap", 1.0, 4)
        _run.log_scalar("gap", 2.0, 6)
        _run.log_scalar("gap", 3.0, 6)  # first and last step 3 apart, but not consecutive

    ex.run()
    with obs.engine.connect() as conn:
        rows = conn.execute(
            sa.text('SELECT metric_id, name, step, value, "timestamp" FROM metric')
        ).all()
        chunks = conn.execute(
            sa.text(
                "SELECT name, first_id, last_id, count, first_step, steps, "
                '"values", timestamps FROM metric_chunk ORDER BY chunk_id'
            )
        ).all()

    def nan_as_none(seq):
        return [None if v is None or v != v else v for v in seq]

    assert sorted(c.name for c in chunks) == ["acc", "auto", "gap", "loss", "odd"]
    for name, first, last, count, first_step, steps, values, stamps in chunks:
        mine = sorted(r for r in rows if r.name == name and first <= r.metric_id <= last)
        assert count == len(mine) == last - first + 1
        if name == "odd":
            assert first_step is steps is values is stamps is None
            continue
        if name in ("acc", "auto"):
            assert steps is None
            assert list(range(first_step, first_step + count)) == [r.step for r in mine]
        else:
            assert first_step is None
            assert list(unpack("q", [bytes(steps)])) == [r.step for r in mine]
        assert nan_as_none(unpack("d", [bytes(values)])) == nan_as_none(r.value for r in mine)
        assert list(unpack("d", [bytes(stamps)])) == [r.timestamp for r in mine]
    assert sum(c.count for c in chunks) == len(rows) == 15
