"""Benchmark of the SqlObserver's captured output: the cost of a heartbeat with a long output.

Run: ``python bench/bench_sql_output.py`` (PostgreSQL too when SACRED_TEST_POSTGRES_URL is
set; ``--help`` for the options). Prints numbers; asserts only that the stored text is
right.

Issue 13 (speed): the observer sent only the new output at each beat, but SQLite and
PostgreSQL rewrote the whole ``run.captured_out`` value each time, so a 100 KB beat cost
more the more output there was (9.6, 76, 363 ms with 1, 10, 50 MB stored). Now each beat
appends an ``output_chunk`` row and ``run.captured_out`` is rewritten on a doubling
schedule up to a limit, and at the end of the run. Target: <= 2 ms per MB of new output,
amortised, with 50 MB already stored.

"bare" lines: the database's floor for the same text, one INSERT of a beat's text into a
table like ``output_chunk`` and its COMMIT through the driver, without the observer.

For each database, beat size and ``--sync`` mode: beats of that size from an empty output
to the last mark (1, 10, 50 MB), and the mean of ``--beats`` beats after each mark; a beat
without new output (the fixed cost of a heartbeat's transaction) and the run's end
(``final_heartbeat_event`` and ``completed_event``, one transaction as at the end of a run:
the final rewrite of ``run.captured_out``). "new": every beat of the run is timed, so
"whole run" (all beats / all MB) is the amortised cost with the doubling rewrites, and
"both" adds the run's end to it; "CPU of this process": the CPU time the beats took in the
run's process (with PostgreSQL, the server's work is elsewhere). "old" is the observer
with ``_output_chunks = False``, the path before the change (``captured_out =
coalesce(captured_out, '') + new`` at every beat); its beat cost depends only on what is
stored, so it gets there in one beat a mark.
"""

import argparse
import datetime
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

logging.basicConfig(handlers=[logging.NullHandler()], level=logging.WARNING)
logging.getLogger().setLevel(logging.ERROR)

MB = 1_000_000
NOW = datetime.datetime(2026, 11, 27, 22, 10, 0)
EX_INFO = {
    "name": "bench_output",
    "base_dir": HERE,
    "sources": [],
    "dependencies": ["sacred==0.8.7"],
    "repositories": [],
    "mainfile": "bench.py",
}
HOST = {"hostname": "bench", "os": ["Linux", "x"], "python_version": "3", "cpu": "x"}


def log_text(size, seed=1):
    """Training-log lines with random numbers (compresses like real output)."""
    rnd = random.Random(seed)
    lines, total, i = [], 0, 0
    while total < size:
        line = (
            f"epoch {i // 1000:4d} step {i:8d} loss {rnd.random():.6f} "
            f"acc {rnd.random():.4f} lr {rnd.random() * 1e-3:.3e}\n"
        )
        lines.append(line)
        total += len(line)
        i += 1
    return "".join(lines)[:size]


class Databases:
    """Fresh databases: SQLite files in a temporary folder, PostgreSQL databases on the
    server of SACRED_TEST_POSTGRES_URL (dropped at the end)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.pg_server = os.environ.get("SACRED_TEST_POSTGRES_URL")
        self.pg_names = []

    def kinds(self, wanted):
        kinds = ["sqlite"]
        if self.pg_server:
            kinds.append("postgresql")
        elif "postgresql" in wanted:
            print("(PostgreSQL skipped: SACRED_TEST_POSTGRES_URL is not set)")
        return [k for k in kinds if k in wanted]

    def new(self, kind):
        name = f"bench_output_{uuid.uuid4().hex[:10]}"
        if kind == "sqlite":
            return f"sqlite:///{os.path.join(self.tmp, name + '.db')}"
        import psycopg
        import sqlalchemy as sa

        with psycopg.connect(self.pg_server, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        self.pg_names.append(name)
        url = sa.engine.make_url(self.pg_server).set(database=name)
        return url.render_as_string(hide_password=False)

    def drop_all(self):
        if not self.pg_names:
            return
        import psycopg

        with psycopg.connect(self.pg_server, autocommit=True) as con:
            for name in self.pg_names:
                con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def no_sync(engine):
    """Commits that do not wait for the disk (SQLite ``synchronous=OFF``, PostgreSQL
    ``synchronous_commit=off`` for this session): what is left is the work of a beat."""
    import sqlalchemy as sa

    sql = (
        "PRAGMA synchronous=OFF"
        if engine.dialect.name == "sqlite"
        else "SET synchronous_commit = off"
    )

    def on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(sql)
        cursor.close()
        if engine.dialect.name != "sqlite":
            dbapi_connection.commit()

    sa.event.listen(engine, "connect", on_connect)


def one_case(url, text, marks, beat, beats, old, sync):
    """Beats of ``beat`` characters; the ``beats`` beats after each mark (characters stored)
    are timed. Returns ``{mark: [seconds...]}`` and the totals."""
    from sacred.observers import SqlObserver
    from sacred.store import open_store

    obs = SqlObserver(url)
    obs._output_chunks = not old
    if not sync:
        no_sync(obs.engine)
    obs.started_event(EX_INFO, "main", HOST, NOW, {"a": 1}, {}, None)
    beat_no, cpu = 0, 0.0

    def heartbeat(end):
        nonlocal beat_no, cpu
        beat_no += 1
        out = text[:end]  # (the run's string: not part of the beat's cost)
        c, t = time.process_time(), time.perf_counter()
        obs.heartbeat_event({"step": beat_no}, out, NOW, 0.5)
        t = time.perf_counter() - t
        cpu += time.process_time() - c
        return t

    windows = {}
    total, end = 0.0, 0
    for mark in marks:
        if old:  # its cost depends on what is stored only: one beat up to the mark
            end = mark
            heartbeat(end)
        else:  # every beat of the run, timed
            while end + beat <= mark:
                end += beat
                total += heartbeat(end)
        times = []
        for _ in range(beats):
            end += beat
            times.append(heartbeat(end))
        total += sum(times)
        windows[mark] = times
    idle = [heartbeat(end) for _ in range(5)]
    out = text[:end]
    t = time.perf_counter()  # a run's end: its last beat and its end, one transaction
    obs.final_heartbeat_event({"step": beat_no + 1}, out, NOW, 0.5)
    obs.completed_event(NOW, 0.5)
    final = time.perf_counter() - t
    store = open_store(url)
    assert store.get(1)["captured_out"] == text[:end], "the stored output differs"
    store.close()
    obs.engine.dispose()
    return {
        "windows": windows,
        "total": total,
        "end": end,
        "idle": idle,
        "final": final,
        "cpu": cpu,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--marks-mb", type=float, nargs="+", default=[1, 10, 50])
    parser.add_argument("--beat-kb", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--beats", type=int, default=20)
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--paths", nargs="+", default=["old", "new"], choices=["old", "new"])
    parser.add_argument(
        "--sync",
        nargs="+",
        default=["on", "off"],
        choices=["on", "off"],
        help="commits that wait for the disk (on, the default of both databases) or not",
    )
    args = parser.parse_args()
    marks = [int(m * MB) for m in sorted(args.marks_mb)]
    text = log_text(marks[-1] + len(marks) * args.beats * max(args.beat_kb) * 1000 + MB)
    print(
        f"heartbeats with 1 to {args.marks_mb[-1]:g} MB of output stored: the mean of "
        f"{args.beats} beats after each mark, in ms a beat and ms per MB of new output; "
        "target <= 2 ms/MB (amortised) after 50 MB.\n"
        "new: every beat of the run is timed ('whole run': all beats / all MB, the doubling "
        "rewrites included); old: one beat up to each mark, then the timed beats.\n"
        "sync off: commits that do not wait for the disk (sets apart the fixed cost of a "
        "beat, a busy shared disk's fsync)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        dbs = Databases(tmp)
        try:
            for kind in dbs.kinds(args.db):
                for beat_kb in args.beat_kb:
                    beat = beat_kb * 1000
                    for sync in args.sync:
                        for path in args.paths:
                            r = one_case(
                                dbs.new(kind), text, marks, beat, args.beats, path == "old",
                                sync == "on",
                            )  # fmt: skip
                            report(kind, beat, path, sync, r)
                        bare = floor(dbs.new(kind), text, beat, sync == "on")
                        print(
                            f"{kind:10s} {beat // 1000:4d} KB beats, bare sync {sync:3s}: "
                            f"one INSERT + COMMIT {bare * 1e3:.1f} ms = "
                            f"{bare * 1e3 * MB / beat:.1f}/MB (the database's floor)",
                            flush=True,
                        )
        finally:
            dbs.drop_all()


def floor(url, text, beat, sync, n=15):
    """The database's own cost of a beat's text, without the observer: the median ms of
    one bare INSERT of ``beat`` characters into a table like ``output_chunk`` and its COMMIT
    (PostgreSQL: uncompressed, as the observer stores it), through the DBAPI driver."""
    from sacred.observers.sql.engine import create_engine

    engine = create_engine(url)
    if not sync:
        no_sync(engine)
    chunk = text[:beat]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("CREATE TABLE bare_chunk (run_id VARCHAR(24), seq INTEGER, text TEXT)")
        if engine.dialect.name == "postgresql":
            cursor.execute("ALTER TABLE bare_chunk ALTER COLUMN text SET STORAGE EXTERNAL")
        raw.commit()
        mark = "?" if engine.dialect.name == "sqlite" else "%s"
        insert = f"INSERT INTO bare_chunk VALUES ({mark}, {mark}, {mark})"
        times = []
        for seq in range(n):
            t = time.perf_counter()
            cursor.execute(insert, ("1", seq, chunk))
            raw.commit()
            times.append(time.perf_counter() - t)
    finally:
        raw.close()
        engine.dispose()
    return statistics.median(times)


def report(kind, beat, path, sync, r):
    parts = []
    for mark, times in r["windows"].items():
        mean = statistics.mean(times)
        parts.append(f"{mark / MB:3.0f} MB {mean * 1e3:7.1f} ms ={mean * 1e3 * MB / beat:8.1f}/MB")
    line = f"{kind:10s} {beat // 1000:4d} KB beats, {path} sync {sync:3s}: " + " | ".join(parts)
    line += f" | no output {statistics.median(r['idle']) * 1e3:5.1f} ms"
    if path == "new":
        line += f" | whole run {r['total'] * 1e3 * MB / r['end']:6.1f} ms/MB"
        line += f" (CPU of this process {r['cpu'] * 1e3 * MB / r['end']:4.1f})"
    line += f" | end of run {r['final'] * 1e3:6.0f} ms"
    if path == "new":  # the beats and the final rewrite of run.captured_out
        line += f" | both {(r['total'] + r['final']) * 1e3 * MB / r['end']:6.1f} ms/MB"
    print(line, flush=True)


if __name__ == "__main__":
    main()
