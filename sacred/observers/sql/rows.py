"""Rows that both the SqlObserver and ``SqlStore.import_run`` write.

* the values of run columns: ``result_columns`` (the original Float ``result`` and the added
  ``result_json``) and ``storable_text`` (PostgreSQL text cannot hold NUL characters);
* the ``metric`` rows of a batch of points with their packed ``metric_chunk`` row
  (``sqlite_insert`` on SQLite's own connection, ``insert_points`` on any database), and
  ``backfill_metric_chunks`` for databases written before that table;
* ``replace_artifact``: a checkpoint's content in the ``artifact`` row of its name.

SQLAlchemy, and ``schema`` which imports it, are imported inside the functions that need
them: the observer imports this module, and ``from sacred.observers import SqlObserver``
must not import SQLAlchemy.
"""

import datetime
import itertools
import json
import numbers
from operator import sub

from sacred.observers.sql.engine import create_engine, import_sqlalchemy
from sacred.serializer import flatten
from sacred.utils import without_surrogates

__all__ = (
    "epoch_seconds",
    "result_columns",
    "storable_text",
    "sqlite_insert",
    "insert_points",
    "backfill_metric_chunks",
    "replace_artifact",
)

_SQLITE_ROWS_PER_INSERT = 300  # 3 parameters a row + 2 stays below SQLite's old 999 limit
_EPOCH = datetime.datetime(1970, 1, 1)


def epoch_seconds(stamps):
    """Timestamps (naive UTC datetimes, aware datetimes or numbers) as float epoch seconds."""
    try:
        return list(
            map(datetime.timedelta.total_seconds, map(sub, stamps, itertools.repeat(_EPOCH)))
        )
    except TypeError:
        return [_one_epoch_second(t) for t in stamps]


def _one_epoch_second(t):
    if isinstance(t, datetime.datetime):
        return t.timestamp() if t.tzinfo is not None else (t - _EPOCH).total_seconds()
    return None if t is None else float(t)


def result_columns(result):
    """``result`` (Float, numbers only, like the original) and ``result_json`` (any type)."""
    number = float(result) if isinstance(result, numbers.Real) else None
    as_json = None if result is None else json.dumps(flatten(result))
    return {"result": number, "result_json": as_json}


def storable_text(value):
    """``value`` with U+FFFD in place of NUL characters (PostgreSQL text cannot hold them)
    and of surrogates (no UTF-8 encoder takes them: text of an older journal or record,
    see ``sacred.utils.without_surrogates``); the length stays."""
    if not value:
        return value
    value = without_surrogates(value)
    if "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


_sqlite_insert_sql = {}


def sqlite_insert(dbapi_connection, run_id, name, steps, values, stamps):
    """Multi-row INSERTs on the raw sqlite3 connection: about 3x faster than executemany.
    Also writes their ``metric_chunk`` row (see ``schema.MetricChunk``)."""
    from sacred.observers.sql.schema import pack_points  # lazy: imports SQLAlchemy

    n, size = len(steps), _SQLITE_ROWS_PER_INSERT
    if not n:
        return
    # step, value, timestamp of each row in one list: slice assignments copy in C
    # (three times faster than chaining the tuples of a zip)
    flat = [None] * (3 * n)
    flat[0::3], flat[1::3], flat[2::3] = steps, values, stamps
    cursor = dbapi_connection.cursor()
    head = [run_id, name]
    first_id = None
    try:
        for start in range(0, n, size):
            count = min(size, n - start)
            sql = _sqlite_insert_sql.get(count)
            if sql is None:
                rows = ",".join(
                    f"(?1,?2,?{3 * i + 3},?{3 * i + 4},?{3 * i + 5})" for i in range(count)
                )
                sql = f'INSERT INTO metric (run_id, name, step, value, "timestamp") VALUES {rows}'
                _sqlite_insert_sql[count] = sql
            cursor.execute(sql, head + flat[3 * start : 3 * (start + count)])
            if first_id is None:  # the rows of one INSERT get consecutive ids
                first_id = cursor.lastrowid - count + 1
        packed = pack_points(steps, values, stamps)
        cursor.execute(
            "INSERT INTO metric_chunk (run_id, name, first_id, last_id, count, first_step, "
            'steps, "values", timestamps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
            (run_id, name, first_id, cursor.lastrowid, n, *packed.values()),
        )
    finally:
        cursor.close()


def insert_points(connection, run_id, name, steps, values, stamps):
    """The ``metric`` rows and their ``metric_chunk`` row through SQLAlchemy (any database)."""
    import sqlalchemy as sa

    from sacred.observers.sql.schema import Metric, MetricChunk, pack_points  # lazy: as above

    if not len(steps):
        return
    values = _without_booleans(values)
    m = Metric.__table__.c
    of_metric = sa.and_(m.run_id == run_id, m.name == name)
    before = connection.execute(sa.select(sa.func.max(m.metric_id)).where(of_metric)).scalar()
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        raw = connection.connection.dbapi_connection  # psycopg 3: COPY
        _copy_points(raw, run_id, name, steps, values, stamps)
    else:
        rows = [
            {"run_id": run_id, "name": name, "step": s, "value": v, "timestamp": t}
            for s, v, t in zip(steps, values, stamps)
        ]
        connection.execute(Metric.__table__.insert(), rows)
    new = of_metric if before is None else sa.and_(of_metric, m.metric_id > before)
    first_id, last_id = connection.execute(
        sa.select(sa.func.min(m.metric_id), sa.func.max(m.metric_id)).where(new)
    ).one()
    connection.execute(
        MetricChunk.__table__.insert(),
        {
            "run_id": run_id,
            "name": name,
            "first_id": first_id,
            "last_id": last_id,
            "count": len(steps),
            **pack_points(steps, values, stamps),
        },
    )


def _without_booleans(values):
    """``values`` with True/False (Python's or numpy's) as 1.0/0.0, as SQLite stores them:
    a double precision column of PostgreSQL refuses a boolean (the points were lost)."""
    kinds = set(map(type, values))
    if not any(k is bool or k.__name__ == "bool_" for k in kinds):
        return values
    return [float(v) if type(v) is bool or type(v).__name__ == "bool_" else v for v in values]


def _copy_points(dbapi_connection, run_id, name, steps, values, stamps):
    """The ``metric`` rows by PostgreSQL's COPY (psycopg 3), in the open transaction:
    about ten times faster than multi-row INSERTs for a long metric."""
    columns = 'COPY metric (run_id, name, step, value, "timestamp") FROM STDIN'
    if not all(type(s) is int for s in steps):  # rounded as the INSERT's cast would
        steps = [s if type(s) is int else int(round(s)) for s in steps]
    with dbapi_connection.cursor() as cursor, cursor.copy(columns) as copy:
        for row in zip(steps, values, stamps):
            copy.write_row((run_id, name, *row))


def backfill_metric_chunks(url=None, *, engine=None, batch=100_000, progress=None) -> int:
    """Pack the ``metric_chunk`` rows of the metrics that lack them (written before that
    table, or by an older observer), so that ``SqlStore`` reads them fast too.

    Give the database as ``url`` or as an SQLAlchemy ``engine``. A metric whose chunks do
    not cover its rows (first and last row id, number of rows) gets new ones, ``batch``
    points each; one transaction per metric, so it can run beside observers and be
    stopped and run again. Returns the number of metrics packed. The ``metric`` rows are
    not changed: they stay the truth. ``progress``: a bar of metrics checked on stderr;
    ``None`` (default) when stderr is a terminal, ``True`` always (needs tqdm), ``False`` never.
    """
    from sacred.store.progress import bar_for

    sa = import_sqlalchemy()
    # lazy: imports SQLAlchemy
    from sacred.observers.sql.schema import Base, Metric, MetricChunk, pack_points, upgrade_schema

    own = engine is None
    engine = create_engine(url) if own else engine
    try:
        Base.metadata.create_all(engine)
        upgrade_schema(engine)
        m, c = Metric.__table__.c, MetricChunk.__table__.c
        key = (m.run_id, m.name)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    *key, sa.func.count(), sa.func.min(m.metric_id), sa.func.max(m.metric_id)
                ).group_by(*key)
            ).all()
            chunks = conn.execute(
                sa.select(
                    c.run_id,
                    c.name,
                    sa.func.sum(c.count),
                    sa.func.min(c.first_id),
                    sa.func.max(c.last_id),
                ).group_by(c.run_id, c.name)
            ).all()
        covered = {(r, n): (count, first, last) for r, n, count, first, last in chunks}
        packed = 0
        bar = bar_for(progress, len(rows), "backfill", unit="metric")
        for run_id, name, count, first, last in rows:
            if covered.get((run_id, name)) == (count, first, last):
                bar.update(1)
                continue
            with engine.begin() as conn:
                conn.execute(
                    MetricChunk.__table__.delete().where(c.run_id == run_id, c.name == name)
                )
                after = first - 1
                while True:
                    part = conn.execute(
                        sa.select(
                            m.metric_id, m.step, m.value, sa.type_coerce(m.timestamp, sa.Float)
                        )
                        .where(m.run_id == run_id, m.name == name, m.metric_id > after)
                        .order_by(m.metric_id)
                        .limit(batch)
                    ).all()
                    if not part:
                        break
                    ids, steps, values, stamps = (list(x) for x in zip(*part))
                    conn.execute(
                        MetricChunk.__table__.insert(),
                        {
                            "run_id": run_id,
                            "name": name,
                            "first_id": ids[0],
                            "last_id": ids[-1],
                            "count": len(ids),
                            **pack_points(steps, values, stamps),
                        },
                    )
                    after = ids[-1]
            packed += 1
            bar.update(1)
        bar.close()
        return packed
    finally:
        if own:
            engine.dispose()


def replace_artifact(session, run_id, name, path) -> bool:
    """Put the content of ``path`` into the last ``artifact`` row of the run named ``name``
    (a checkpoint replacing the one saved before); False if the run has no such row. The
    row is updated in place: on SQLite that costs a third of a DELETE and an INSERT of a
    large row (the rollback journal copies the freed pages)."""
    from sacred.observers.sql.schema import Artifact, _fit

    table = Artifact.__table__
    last = session.execute(
        table.select()
        .with_only_columns(table.c.artifact_id)
        .where(table.c.run_id == run_id, table.c.filename == _fit(name, Artifact.filename))
        .order_by(table.c.artifact_id.desc())
        .limit(1)
    ).scalar()
    if last is None:
        return False
    with open(path, "rb") as f:
        content = f.read()
    session.execute(table.update().where(table.c.artifact_id == last).values(content=content))
    return True
