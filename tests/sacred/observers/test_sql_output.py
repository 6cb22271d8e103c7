"""The SqlObserver's captured output: each heartbeat appends an ``output_chunk`` row,
``run.captured_out`` is rewritten on a doubling schedule and at the end of the run, and
readers (``SqlStore``, ``SqlObserver.query``) join the two (issue 13, speed). On SQLite and
PostgreSQL."""

import contextlib
import datetime
import json
import os
import random
import threading
import time

import pytest

from sacred import Experiment
from sacred.observers import SqlObserver
from sacred.observers.sql import replay_failed_events
from sacred.observers.sql.engine import create_engine
from sacred.observers.sql.output import fold_limit_of, read_outputs
from sacred.observers.sql_bases import Base
from sacred.store import open_store
from tests.sacred.observers.test_sql import (
    HERE,
    RUN_OPTIONS,
    _drop_pg_database,
    _fresh_pg_database,
    _with_database,
    raw,
)
from tests.services import service_url

sa = pytest.importorskip("sqlalchemy")

NOW = datetime.datetime(2026, 11, 27, 22, 43, 50, 227301)
EX_INFO = {
    "name": "output",
    "base_dir": HERE,
    "sources": [],
    "dependencies": [],
    "repositories": [],
    "mainfile": None,
}
HOST = {"hostname": "h", "cpu": "c", "os": ["Linux", "x"], "python_version": "3"}


@pytest.fixture
def pg_url():
    server = service_url("SACRED_TEST_POSTGRES_URL")
    name = _fresh_pg_database(server)
    yield _with_database(server, name)
    _drop_pg_database(server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return request.getfixturevalue("pg_url")


def started(url, fold_limit=None, **kwargs):
    obs = SqlObserver(url, **kwargs)
    if fold_limit is not None:
        obs.output_fold_limit = fold_limit
    assert obs.started_event(EX_INFO, "main", HOST, NOW, {"a": 1}, {}, None) == 1
    return obs


def lines(n, seed=0):
    """``n`` pieces of output of varied length (one beat's worth each)."""
    rnd = random.Random(seed)
    return [
        "".join(
            f"beat {i} line {j} {'x' * rnd.randrange(0, 200)}\n" for j in range(rnd.randrange(1, 4))
        )
        for i in range(n)
    ]


def stored_column(url):
    """``run.captured_out`` as the original's readers see it (plain SQL)."""
    return raw(url, "SELECT captured_out FROM run WHERE run_id = '1'")[0][0]


def chunk_count(url):
    return raw(url, "SELECT count(*) FROM output_chunk")[0][0]


@contextlib.contextmanager
def statements_of(engine):
    """The SQL statements ``engine`` sends meanwhile, upper case, on one line each."""
    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()).upper())

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


# ---------------------------------------------------------------- writing and reading
@pytest.mark.parametrize("fold_limit", [None, 3000])
def test_many_beats_are_read_whole_while_running_and_after(db_url, fold_limit):
    obs = started(db_url, fold_limit)
    store = open_store(db_url)
    plain = create_engine(db_url)
    text = ""
    for piece in lines(60):
        text += piece
        obs.heartbeat_event({"n": len(text)}, text, NOW, None)
        # everything printed so far, through the store and the observer
        assert store.get(1)["captured_out"] == text
        assert obs.query("1")["captured_out"] == text
        # the original's readers see a prefix: at least half of it up to the fold limit
        with plain.connect() as conn:
            column = conn.execute(sa.text("SELECT captured_out FROM run")).scalar()
        assert text.startswith(column)
        if len(text) <= (fold_limit or fold_limit_of(obs.engine.dialect.name)):
            assert len(column) > len(text) // 2
    plain.dispose()
    assert chunk_count(db_url) > 0
    obs.heartbeat_event({}, text, NOW, None)  # the last beat repeats the output
    obs.completed_event(NOW, 1.0)
    assert stored_column(db_url) == text  # whole in the original's column
    assert chunk_count(db_url) == 0
    assert store.get(1)["captured_out"] == text
    assert obs.query("1")["captured_out"] == text
    assert store.find("captured_out =~ 'beat 59 line'")[0]["_id"] == 1
    store.close()


def test_a_beat_writes_one_chunk_of_the_new_text_only(db_url):
    obs = started(db_url)
    statements = []
    obs.heartbeat_event({}, "a" * 1000, NOW, None)
    sa.event.listen(obs.engine, "before_cursor_execute", lambda *a: statements.append(a[3]))
    obs.heartbeat_event({}, "a" * 1000 + "b" * 10, NOW, None)
    obs.heartbeat_event({}, "a" * 1000 + "b" * 10 + "c" * 20, NOW, None)
    params = json.dumps([list(p) if isinstance(p, tuple) else p for p in statements], default=str)
    assert "a" * 50 not in params and "b" * 10 in params and "c" * 20 in params  # (ids are hex)
    assert raw(db_url, "SELECT run_id, seq, text FROM output_chunk ORDER BY seq") == [
        ("1", 0, "b" * 10),
        ("1", 1, "c" * 20),
    ]
    assert stored_column(db_url) == "a" * 1000
    # doubling: once the chunks hold as much as the column, the column gets all of it
    whole = "a" * 1000 + "b" * 10 + "c" * 20 + "d" * 970
    obs.heartbeat_event({}, whole, NOW, None)
    assert stored_column(db_url) == whole and chunk_count(db_url) == 0


def test_output_changed_by_a_filter_is_written_again(db_url):
    obs = started(db_url, fold_limit=100)
    obs.heartbeat_event({}, "x" * 80, NOW, None)
    obs.heartbeat_event({}, "x" * 80 + "y" * 50, NOW, None)  # a chunk
    assert chunk_count(db_url) == 1
    # a filter rewrote the start (same length, same end)
    changed = "z" + "x" * 79 + "y" * 50 + "w" * 300
    obs.heartbeat_event({}, changed, NOW, None)
    assert stored_column(db_url) == changed[:100]  # the fold limit, the rest in one chunk
    assert obs.query("1")["captured_out"] == changed
    obs.heartbeat_event({}, "short", NOW, None)
    assert stored_column(db_url) == "short" and chunk_count(db_url) == 0
    obs.completed_event(NOW, None)
    assert stored_column(db_url) == "short"


@pytest.mark.parametrize("end", ["failed", "interrupted"])
def test_failed_and_interrupted_runs_end_with_the_whole_output(db_url, end):
    obs = started(db_url, fold_limit=0)  # no rewrite while running
    text = ""
    for piece in lines(20):
        text += piece
        obs.heartbeat_event({}, text, NOW, None)
    assert stored_column(db_url) == "" and chunk_count(db_url) == 20
    if end == "failed":
        obs.failed_event(NOW, ["Traceback\n", "Error\n"])
    else:
        obs.interrupted_event(NOW, "INTERRUPTED")
    assert stored_column(db_url) == text and chunk_count(db_url) == 0
    assert open_store(db_url).get(1)["captured_out"] == text


def test_an_experiment_with_many_beats(db_url):
    ex = Experiment("output_demo", base_dir=HERE)
    obs = SqlObserver(db_url)
    obs.output_fold_limit = 500
    ex.observers.append(obs)
    seen = []

    @ex.main
    def main(_run):
        store = open_store(db_url)
        for i in range(40):
            print(f"step {i} " + "o" * 40)
            _run._emit_heartbeat()  # one beat per step (the timer beats too)
            seen.append(store.get(_run._id)["captured_out"])

    run = ex.run(options=RUN_OPTIONS)
    final = run.captured_out
    assert final.count("step ") == 40
    for i, text in enumerate(seen):  # every step's line was there at its beat
        assert final.startswith(text) and f"step {i} " in text
    assert stored_column(db_url) == final and chunk_count(db_url) == 0
    assert obs.query("1")["captured_out"] == final == open_store(db_url).get(1)["captured_out"]


def test_store_queries_delete_and_leftover_chunks(db_url):
    # chunks an older SqlStore left when it deleted a run 1: not part of the new run 1
    engine = create_engine(db_url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO output_chunk (run_id, seq, text) VALUES ('1', 0, 'stale')")
        )
    engine.dispose()
    obs = started(db_url, fold_limit=11)
    store = open_store(db_url)
    assert store.get(1)["captured_out"] == ""
    obs.heartbeat_event({}, "first line\n", NOW, None)
    obs.heartbeat_event({}, "first line\nthe needle\n", NOW, None)
    assert chunk_count(db_url) == 1
    assert store.count("captured_out =~ 'needle'") == 1
    # across run.captured_out and the chunk
    assert [r["_id"] for r in store.find("captured_out =~ 'line[^a-z]the needle'")] == [1]
    assert store.count("captured_out =~ 'stale'") == 0
    assert store.find(sort="captured_out")[0]["captured_out"] == "first line\nthe needle\n"
    store.delete(1)
    assert chunk_count(db_url) == 0


def test_a_run_imported_into_the_store_has_its_output_in_the_column(db_url, tmp_path):
    obs = started(db_url, fold_limit=0)
    obs.heartbeat_event({}, "one\n", NOW, None)
    obs.heartbeat_event({}, "one\ntwo\n", NOW, None)
    store = open_store(db_url)
    record = store.get(1)
    new_id = store.import_run(record, new_id=True)
    assert store.get(new_id)["captured_out"] == "one\ntwo\n"
    assert raw(db_url, f"SELECT captured_out FROM run WHERE run_id = '{new_id}'") == [
        ("one\ntwo\n",)
    ]


def test_postgresql_stores_chunks_uncompressed(pg_url):
    started(pg_url)
    ((storage,),) = raw(
        pg_url,
        "SELECT attstorage FROM pg_attribute "
        "WHERE attrelid = 'output_chunk'::regclass AND attname = 'text'",
    )
    assert storage == "e"  # EXTERNAL: out of line, never compressed


def test_postgresql_folds_the_output_into_an_lz4_column_on_the_server(pg_url):
    """The end of the run joins the chunks on the server (the text does not travel to the
    client and back) into ``run.captured_out``, compressed with lz4 (pglz took 3 times as
    long for 70 MB: bench/bench_sql_output.py's "end of run")."""
    obs = started(pg_url, fold_limit=0)
    ((method,),) = raw(
        pg_url,
        "SELECT attcompression FROM pg_attribute "
        "WHERE attrelid = 'run'::regclass AND attname = 'captured_out'",
    )
    assert method == "l"
    text = ""
    for piece in lines(40, seed=5) + ["naïve ✓ 日本語\n" * 3000, "\x00 NUL kept out\n"]:
        text += piece
        obs.heartbeat_event({}, text, NOW, None)
    assert chunk_count(pg_url) == 42
    obs.completed_event(NOW, 1.0)
    assert chunk_count(pg_url) == 0
    expected = text.replace("\x00", "\ufffd")  # (PostgreSQL's text has no NUL)
    assert stored_column(pg_url) == expected
    ((size, length),) = raw(
        pg_url, "SELECT pg_column_size(captured_out), length(captured_out) FROM run"
    )
    assert length == len(expected) and size < len(expected.encode()) // 2  # compressed


def test_the_end_of_a_run_updates_its_row_once(db_url):
    """The whole output goes into ``run.captured_out`` in the same UPDATE as the run's
    end (SQLite rewrites a whole row, output included, at each UPDATE), and SQLite's
    secure_delete setting is as it was after the chunks are deleted."""
    obs = started(db_url, fold_limit=0)
    obs.heartbeat_event({}, "one\n", NOW, None)
    obs.heartbeat_event({}, "one\ntwo\n", NOW, None)
    with obs.engine.connect() as conn:
        secure = conn.exec_driver_sql("PRAGMA secure_delete").scalar() if "sqlite" in db_url else 0
    with statements_of(obs.engine) as statements:
        obs.completed_event(NOW, 1.0)
    assert len([s for s in statements if s.startswith("UPDATE RUN ")]) == 1
    assert stored_column(db_url) == "one\ntwo\n"
    assert chunk_count(db_url) == 0
    if "sqlite" in db_url:
        with obs.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == secure


def test_the_end_of_a_run_folds_its_last_beats_text_without_reading_it_back(db_url):
    """A run ends with its last beat and its end in one transaction: the last beat's text
    (the whole output) becomes ``run.captured_out`` as it is, nothing is read back."""
    obs = started(db_url, fold_limit=0)
    obs.heartbeat_event({}, "one\n", NOW, None)
    obs.heartbeat_event({}, "one\ntwo\n", NOW, None)
    with statements_of(obs.engine) as statements:
        obs.final_heartbeat_event({}, "one\ntwo\nthree\n", NOW, None)
        obs.completed_event(NOW, 1.0)
    assert [s for s in statements if s.startswith("SELECT") and "OUTPUT_CHUNK" in s] == []
    assert stored_column(db_url) == "one\ntwo\nthree\n"
    assert chunk_count(db_url) == 0
    assert open_store(db_url).get(1)["captured_out"] == "one\ntwo\nthree\n"


def test_text_that_is_not_utf8_is_stored_with_replacement_characters(db_url):
    """Text with surrogates (a non-UTF-8 name, as an older journal or record holds it;
    runs give U+FFFD now) is stored with U+FFFD in their place, not refused."""
    obs = started(db_url, fold_limit=0)
    obs.heartbeat_event({}, "caf\udce9\n", NOW, None)
    obs.failed_event(NOW, ["Traceback\n", "OSError: caf\udce9\n"])
    assert stored_column(db_url) == "caf\ufffd\n"
    store = open_store(db_url)
    record = store.get(1)
    assert record["status"] == "FAILED"
    assert "OSError: caf\ufffd" in "".join(record["fail_trace"])
    new_id = store.import_run(dict(record, captured_out="x\udce9"), new_id=True)
    assert store.get(new_id)["captured_out"] == "x\ufffd"
    store.close()


# ---------------------------------------------------------------- readers during beats
def test_a_reader_never_sees_text_twice_or_misses_text(db_url):
    obs = started(db_url, fold_limit=4000)
    pieces = lines(150, seed=3)
    final = "".join(pieces)
    reads, errors = [[], []], []
    done = threading.Event()

    def reader(mine):
        store = open_store(db_url)
        engine = create_engine(db_url)
        try:
            while not done.is_set():
                mine.append(store.get(1)["captured_out"])
                with engine.connect() as conn:
                    mine.append(read_outputs(conn, ["1"])["1"] or "")
        except Exception as e:  # pragma: no cover (reported below)
            errors.append(e)
        finally:
            engine.dispose()
            store.close()

    threads = [threading.Thread(target=reader, args=(mine,)) for mine in reads]
    for t in threads:
        t.start()
    try:
        text = ""
        for i, piece in enumerate(pieces):
            text += piece
            obs.heartbeat_event({}, text, NOW, None)
            if i == 0:  # both readers are reading
                while not all(reads) and not errors:
                    time.sleep(0.001)
            time.sleep(0.002)  # let them read between beats too (and during them)
        obs.completed_event(NOW, None)
    finally:
        done.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    for mine in reads:
        assert len(mine) > 10
        for read in mine:
            assert final.startswith(read), "a read that is no prefix of the output"
        lengths = [len(r) for r in mine]
        assert lengths == sorted(lengths), "a read shorter than an earlier one"
        assert len(set(lengths)) > 5  # the reads saw the output grow
    assert open_store(db_url).get(1)["captured_out"] == final


# ---------------------------------------------------------------- older databases, replay
def _original_database(url):
    """Tables as the original SqlObserver made them (no output_chunk), with one run."""
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE output_chunk"))
        conn.execute(sa.text("DROP TABLE metric_chunk"))
        conn.execute(sa.text("DROP TABLE metric"))
        conn.execute(sa.text("ALTER TABLE run DROP COLUMN result_json"))
        conn.execute(sa.text("ALTER TABLE run DROP COLUMN meta_json"))
        conn.execute(
            sa.text(
                "INSERT INTO run (id, run_id, command, status, config, start_time, "
                "captured_out) VALUES (7, '7', 'main', 'COMPLETED', '{}', "
                "'2026-01-01 10:00:00', 'old output\nof the original\n')"
            )
        )
    engine.dispose()


def test_a_database_of_the_original_is_read_then_upgraded(db_url):
    _original_database(db_url)
    store = open_store(db_url)
    assert store.get(7)["captured_out"] == "old output\nof the original\n"
    assert store.count("captured_out =~ 'original'") == 1
    assert "output_chunk" not in sa.inspect(create_engine(db_url)).get_table_names()

    obs = started_after(db_url)
    text = ""
    for piece in lines(30):
        text += piece
        obs.heartbeat_event({}, text, NOW, None)
        assert store.get(8)["captured_out"] == text  # the store opened before the upgrade
    assert store.count("captured_out =~ 'beat 29'") == 1
    obs.completed_event(NOW, None)
    assert raw(db_url, "SELECT captured_out FROM run WHERE run_id = '8'") == [(text,)]
    assert store.get(7)["captured_out"] == "old output\nof the original\n"


def started_after(url):
    obs = SqlObserver(url)
    obs.output_fold_limit = 1000
    assert obs.started_event(EX_INFO, "main", HOST, NOW, {}, {}, None) == 8
    return obs


def test_replaying_a_journal_of_beats_gives_the_same_text(db_url, tmp_path):
    obs = started(db_url, fold_limit=300)
    pieces = lines(30, seed=5)
    text = ""
    for piece in pieces[:10]:  # written while the database was there
        text += piece
        obs.heartbeat_event({}, text, NOW, None)
    # the rest was kept in a journal: several beats (as a file of an older run could hold)
    path = tmp_path / "journal.jsonl"
    records = []
    for piece in pieces[10:]:
        text += piece
        kwargs = {"info": {}, "captured_out": text, "beat_time": NOW, "result": None}
        records.append({"event": "heartbeat_event", "kwargs": kwargs})
    partial = len(records)
    records.append({"event": "completed_event", "kwargs": {"stop_time": NOW, "result": 1}})
    from sacred.serializer import flatten

    def write(recs):
        with open(path, "w") as f:
            for r in recs:
                f.write(json.dumps({**r, "kwargs": flatten(r["kwargs"]), "run_id": "1"}) + "\n")

    # the beats alone: appended as chunks after a first beat that writes all of it
    write(records[:partial])
    assert replay_failed_events(str(path), db_url) == partial
    assert open_store(db_url).get(1)["captured_out"] == text
    assert text.startswith(stored_column(db_url)) and chunk_count(db_url) > 0
    # and the end: the whole text in run.captured_out
    write(records[partial - 1 :])
    assert replay_failed_events(str(path), db_url) == 2
    assert stored_column(db_url) == text and chunk_count(db_url) == 0
    assert obs.query("1")["status"] == "COMPLETED"


def test_beats_kept_during_an_outage_are_written_or_replayed_whole(db_url, tmp_path):
    obs = started(db_url, fold_limit=200, failure_dir=str(tmp_path), retry_timeout=0.2)
    obs.outage_retry_interval = 0.0  # no backoff: a try at every beat
    real_write = obs._write
    down = threading.Event()

    def write(ops):
        if down.is_set():
            raise sa.exc.OperationalError("UPDATE", {}, Exception("the database is down"))
        return real_write(ops)

    obs._write = write
    pieces = lines(40, seed=7)
    text = ""
    for i, piece in enumerate(pieces):
        text += piece
        if i == 10:
            down.set()  # beats are kept, the newest replacing the older
        if i == 20:
            down.clear()  # back: the kept beat is written (all of it) with the next one
        if i == 30:
            down.set()
        obs.heartbeat_event({}, text, NOW, None)
        if i < 10 or 20 <= i < 30:
            assert obs.query("1")["captured_out"] == text
    obs.completed_event(NOW, None)  # kept in a file after retry_timeout
    (journal,) = [f for f in os.listdir(tmp_path) if f.endswith(".jsonl")]
    assert obs.query("1")["status"] == "RUNNING"
    assert replay_failed_events(str(tmp_path / journal), db_url) == 2
    assert stored_column(db_url) == text and chunk_count(db_url) == 0
    assert obs.query("1")["captured_out"] == text
