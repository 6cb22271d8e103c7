"""The tables of the SqlObserver, as SQLAlchemy 2 declarative models.

The tables, columns and types are those of the original Sacred (dashboards and scripts
read them). Two additions, which leave the original tables usable as they were:

* ``run.result_json`` (Text): the result of any type, as ``json.dumps(flatten(result))``.
  The original ``run.result`` column is a Float and keeps holding numeric results;
  it is NULL for other results.
* ``experiment.mainfile`` and ``experiment.base_dir_full`` (Text): the experiment's main file
  and its whole ``base_dir`` (``experiment.base_dir`` keeps the first 64 characters), read
  by ``SqlStore`` (a worker runs a queued run's script from them).
* ``run.meta_json`` (Text, NULL when empty): the keys of a run's ``meta`` that have no
  column of their own (not ``command``, ``comment``, ``priority``), as a JSON object.
  The observer writes it when a run is queued, started or continued (such as ``parent``
  and the command line's ``options``, ``named_configs``, ``config_updates``; not
  ``queue_time``), never later; ``SqlStore.update_meta`` changes it (Sacredboard's tags
  and notes).
* the table ``metric`` (see ``Metric``): one row per logged measurement, with an index on
  ``(run_id, name)``. ``timestamp`` holds seconds since the Unix epoch (UTC, a float);
  through the ORM it reads back as a naive UTC ``datetime``. In SQLite, for example,
  ``datetime(timestamp, 'unixepoch', 'subsec')`` shows it as text.
* the table ``metric_chunk`` (see ``MetricChunk``): a packed copy of the ``metric`` rows
  that one write added for one metric, so that a long metric is read in a few rows.
  The rows stay the truth: a reader uses the chunks only when they cover exactly the
  rows there are (databases written before this table have none).
* the table ``output_chunk`` (see ``OutputChunk``): the captured output a heartbeat added,
  one row a beat. A run's output is ``run.captured_out`` followed by its chunks in the
  order of ``seq``; ``run.captured_out`` is rewritten with all of it on a doubling schedule
  while the run goes on (up to a limit, see ``sacred.observers.sql.output``) and when it
  ends, and its chunks are deleted in the same transaction. So the original's readers find
  the whole output in ``run.captured_out`` once a run has ended, and a prefix before.

This module imports SQLAlchemy; it is only imported when an SqlObserver or a SqlStore is
used. Its public names are also importable from ``sacred.observers.sql_bases``, the original's
module path.
"""

import datetime
import hashlib
import json
import os
import sys
from array import array
from itertools import islice
from operator import sub

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, backref, relationship

from sacred.dependencies import get_digest as _md5_of_file
from sacred.safe_restore import safe_restore

__all__ = (
    "Base",
    "Source",
    "Repository",
    "Dependency",
    "Artifact",
    "Resource",
    "Host",
    "Experiment",
    "Run",
    "Metric",
    "MetricChunk",
    "OutputChunk",
    "EpochDateTime",
    "experiment_source_association",
    "experiment_repository_association",
    "experiment_dependency_association",
    "run_resource_association",
    "STATUSES",
)

STATUSES = ("RUNNING", "COMPLETED", "INTERRUPTED", "TIMEOUT", "FAILED", "QUEUED")

_EPOCH = datetime.datetime(1970, 1, 1)


class Base(DeclarativeBase):
    pass


def _fit(value, column):
    """Cut a string to the length of its column (PostgreSQL refuses longer values)."""
    length = column.type.length
    if isinstance(value, str) and length is not None and len(value) > length:
        return value[:length]
    return value


class EpochDateTime(sa.types.TypeDecorator):
    """A naive UTC datetime stored as float seconds since the epoch (cheap to bulk-insert)."""

    impl = sa.Float
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if isinstance(value, datetime.datetime):
            if value.tzinfo is not None:
                return value.timestamp()
            return (value - _EPOCH).total_seconds()
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return _EPOCH + datetime.timedelta(seconds=value)


# ---------------------------------------------------------------- association tables
experiment_source_association = sa.Table(
    "experiments_sources",
    Base.metadata,
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiment.experiment_id")),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("source.source_id")),
)

experiment_repository_association = sa.Table(
    "experiments_repositories",
    Base.metadata,
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiment.experiment_id")),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey("repository.repository_id")),
)

experiment_dependency_association = sa.Table(
    "experiments_dependencies",
    Base.metadata,
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiment.experiment_id")),
    sa.Column("dependency_id", sa.Integer, sa.ForeignKey("dependency.dependency_id")),
)

run_resource_association = sa.Table(
    "runs_resources",
    Base.metadata,
    sa.Column("run_id", sa.String(24), sa.ForeignKey("run.run_id")),
    sa.Column("resource_id", sa.Integer, sa.ForeignKey("resource.resource_id")),
)


# ---------------------------------------------------------------- models
class Source(Base):
    __tablename__ = "source"

    source_id = sa.Column(sa.Integer, primary_key=True)
    filename = sa.Column(sa.String(256))
    md5sum = sa.Column(sa.String(32))
    content = sa.Column(sa.Text)

    @classmethod
    def get_or_create(cls, filename, md5sum, session, basedir):
        stored_name = _fit(filename, cls.filename)
        instance = session.query(cls).filter_by(filename=stored_name, md5sum=md5sum).first()
        if instance:
            return instance
        full_path = os.path.join(basedir, filename)
        md5sum_ = _md5_of_file(full_path)
        assert md5sum == md5sum_, f"found md5 mismatch for {full_path}: {md5sum} != {md5sum_}"
        with open(full_path) as f:
            return cls(filename=stored_name, md5sum=md5sum, content=f.read())

    def to_json(self):
        return {"filename": self.filename, "md5sum": self.md5sum}


class Repository(Base):
    __tablename__ = "repository"

    repository_id = sa.Column(sa.Integer, primary_key=True)
    url = sa.Column(sa.String(2048))
    commit = sa.Column(sa.String(40))
    dirty = sa.Column(sa.Boolean)

    @classmethod
    def get_or_create(cls, url, commit, dirty, session):
        url, commit = _fit(url, cls.url), _fit(commit, cls.commit)
        instance = session.query(cls).filter_by(url=url, commit=commit, dirty=dirty).first()
        return instance or cls(url=url, commit=commit, dirty=dirty)

    def to_json(self):
        return {"url": self.url, "commit": self.commit, "dirty": self.dirty}


class Dependency(Base):
    __tablename__ = "dependency"

    dependency_id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(32))
    version = sa.Column(sa.String(16))

    @classmethod
    def get_or_create(cls, dep, session):
        name, _, version = dep.partition("==")
        name, version = _fit(name, cls.name), _fit(version, cls.version)
        instance = session.query(cls).filter_by(name=name, version=version).first()
        return instance or cls(name=name, version=version)

    def to_json(self):
        return f"{self.name}=={self.version}"


class Artifact(Base):
    __tablename__ = "artifact"

    artifact_id = sa.Column(sa.Integer, primary_key=True)
    filename = sa.Column(sa.String(64))
    content = sa.Column(sa.LargeBinary)
    run_id = sa.Column(sa.String(24), sa.ForeignKey("run.run_id"))
    run = relationship("Run", backref=backref("artifacts"))

    @classmethod
    def create(cls, name, filename):
        with open(filename, "rb") as f:
            return cls(filename=_fit(name, cls.filename), content=f.read())

    def to_json(self):
        return {"_id": self.artifact_id, "filename": self.filename}


class Resource(Base):
    __tablename__ = "resource"

    resource_id = sa.Column(sa.Integer, primary_key=True)
    filename = sa.Column(sa.String(256))
    md5sum = sa.Column(sa.String(32))
    content = sa.Column(sa.LargeBinary)

    @classmethod
    def get_or_create(cls, filename, session, path=None):
        """The resource ``filename``; its content is read from ``path`` (default: filename)."""
        path = filename if path is None else path
        md5sum = _md5_of_file(path)
        stored_name = _fit(filename, cls.filename)
        instance = session.query(cls).filter_by(filename=stored_name, md5sum=md5sum).first()
        if instance:
            return instance
        with open(path, "rb") as f:
            return cls(filename=stored_name, md5sum=md5sum, content=f.read())

    def to_json(self):
        return {"filename": self.filename, "md5sum": self.md5sum}


class Host(Base):
    __tablename__ = "host"

    host_id = sa.Column(sa.Integer, primary_key=True)
    cpu = sa.Column(sa.String(64))
    hostname = sa.Column(sa.String(64))
    os = sa.Column(sa.String(16))
    os_info = sa.Column(sa.String(64))
    python_version = sa.Column(sa.String(16))

    @classmethod
    def get_or_create(cls, host_info, session):
        os_entry = host_info.get("os") or [None, None]
        fields = {
            "hostname": _fit(host_info.get("hostname"), cls.hostname),
            "cpu": _fit(host_info.get("cpu"), cls.cpu),
            "os": _fit(os_entry[0], cls.os),
            "os_info": _fit(os_entry[1], cls.os_info),
            "python_version": _fit(host_info.get("python_version"), cls.python_version),
        }
        # a new Experiment may still be outside the session: don't flush it half-built
        with session.no_autoflush:
            return session.query(cls).filter_by(**fields).first() or cls(**fields)

    def to_json(self):
        return {
            "cpu": self.cpu,
            "hostname": self.hostname,
            "os": [self.os, self.os_info],
            "python_version": self.python_version,
        }


class Experiment(Base):
    __tablename__ = "experiment"

    experiment_id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(32))
    md5sum = sa.Column(sa.String(32))
    base_dir = sa.Column(sa.String(64))
    # added: the experiment's main file and its whole base_dir (the column above is cut to
    # 64 characters), so that a worker finds the script of a queued run
    mainfile = sa.Column(sa.Text)
    base_dir_full = sa.Column(sa.Text)
    sources = relationship("Source", secondary=experiment_source_association, backref="experiments")
    repositories = relationship(
        "Repository", secondary=experiment_repository_association, backref="experiments"
    )
    dependencies = relationship(
        "Dependency", secondary=experiment_dependency_association, backref="experiments"
    )

    @classmethod
    def get_or_create(cls, ex_info, session):
        name = _fit(ex_info["name"], cls.name)
        md5 = hashlib.md5(json.dumps(ex_info).encode("utf-8")).hexdigest()
        instance = session.query(cls).filter_by(name=name, md5sum=md5).first()
        if instance:
            if instance.base_dir_full is None:  # made by an older version
                instance.mainfile = ex_info.get("mainfile")
                instance.base_dir_full = ex_info["base_dir"]
            return instance
        base_dir = ex_info["base_dir"]
        sources = {
            (filename, md5sum): Source.get_or_create(filename, md5sum, session, base_dir)
            for filename, md5sum in _unique(map(tuple, ex_info["sources"]))
        }
        repositories = {
            key: Repository.get_or_create(*key, session)
            for key in _unique(
                (r["url"], r["commit"], r["dirty"]) for r in ex_info.get("repositories", [])
            )
        }
        dependencies = {
            d: Dependency.get_or_create(d, session) for d in _unique(ex_info["dependencies"])
        }
        return cls(
            name=name,
            md5sum=md5,
            base_dir=_fit(base_dir, cls.base_dir),
            mainfile=ex_info.get("mainfile"),
            base_dir_full=base_dir,
            sources=list(sources.values()),
            repositories=list(repositories.values()),
            dependencies=list(dependencies.values()),
        )

    def to_json(self):
        return {
            "name": self.name,
            "base_dir": self.base_dir,
            "sources": [s.to_json() for s in self.sources],
            "repositories": [r.to_json() for r in self.repositories],
            "dependencies": [d.to_json() for d in self.dependencies],
        }


def _unique(keys):
    """Drop repeated entries, keeping the order (a repository is listed once per source)."""
    return list(dict.fromkeys(keys))


class Run(Base):
    __tablename__ = "run"

    id = sa.Column(sa.Integer, primary_key=True)
    run_id = sa.Column(sa.String(24), unique=True)
    command = sa.Column(sa.String(64))

    # times
    start_time = sa.Column(sa.DateTime)
    heartbeat = sa.Column(sa.DateTime)
    stop_time = sa.Column(sa.DateTime)
    queue_time = sa.Column(sa.DateTime)

    # meta info
    priority = sa.Column(sa.Float)
    comment = sa.Column(sa.Text)

    fail_trace = sa.Column(sa.Text)

    # Captured out
    captured_out = sa.Column(sa.Text)

    # Configuration & info
    config = sa.Column(sa.Text)
    info = sa.Column(sa.Text)

    status = sa.Column(sa.Enum(*STATUSES, name="status_enum"))

    host_id = sa.Column(sa.Integer, sa.ForeignKey("host.host_id"))
    host = relationship("Host", backref=backref("runs"))

    experiment_id = sa.Column(sa.Integer, sa.ForeignKey("experiment.experiment_id"))
    experiment = relationship("Experiment", backref=backref("runs"))

    # artifacts = backref from Artifact
    resources = relationship("Resource", secondary=run_resource_association, backref="runs")

    result = sa.Column(sa.Float)
    # added: the result of any JSON-able type, json.dumps(flatten(result))
    result_json = sa.Column(sa.Text)
    # added: meta keys without a column of their own, a JSON object (see SqlStore.update_meta)
    meta_json = sa.Column(sa.Text)

    def to_json(self):
        if self.result_json is not None:
            result = safe_restore(json.loads(self.result_json), "result")
        else:
            result = self.result
        return {
            "_id": self.run_id,
            "command": self.command,
            "start_time": self.start_time,
            "heartbeat": self.heartbeat,
            "stop_time": self.stop_time,
            "queue_time": self.queue_time,
            "status": self.status,
            "result": result,
            "meta": {
                **(json.loads(self.meta_json) if self.meta_json else {}),
                "comment": self.comment,
                "priority": self.priority,
            },
            "resources": [r.to_json() for r in self.resources],
            "artifacts": [a.to_json() for a in self.artifacts],
            "host": self.host.to_json(),
            "experiment": self.experiment.to_json(),
            "config": safe_restore(json.loads(self.config), "config"),
            "captured_out": self.captured_out,
            "fail_trace": self.fail_trace,
        }


def next_run_id(session, at_least: int = 1) -> int:
    """The id of a new run: 1, 2, 3, ... and past every id a database already holds.

    The original counts ``max(id) + 1`` over the row key starting from 0, which gives the ids
    0, 2, 3; counting from 1 continues its databases correctly (after 0, 2, 3 comes 4). An id
    that a user gave by hand is skipped; the unique ``run_id`` decides between two processes
    that start at once (the loser asks again with ``at_least``).
    """
    max_id = session.execute(sa.select(sa.func.max(Run.id))).scalar()
    new_id = max(at_least, (max_id or 0) + 1)
    while session.execute(sa.select(Run.id).where(Run.run_id == str(new_id))).first():
        new_id += 1
    return new_id


def _not_postgresql(ddl, target, bind, dialect=None, **kw):
    return (dialect or bind.dialect).name != "postgresql"


class Metric(Base):
    """Added: one row per measurement of a scalar metric (``log_scalar``)."""

    __tablename__ = "metric"
    # The first and last row of a metric (min/max metric_id) must be index lookups. SQLite
    # keeps the row id in each index entry; a PostgreSQL index needs metric_id named, and
    # then serves the lookups by (run_id, name) too.
    __table_args__ = (
        sa.Index("ix_metric_run_id_name", "run_id", "name").ddl_if(callable_=_not_postgresql),
        sa.Index("ix_metric_run_id_name_metric_id", "run_id", "name", "metric_id").ddl_if(
            dialect="postgresql"
        ),
    )

    metric_id = sa.Column(sa.Integer, primary_key=True)
    run_id = sa.Column(sa.String(24), sa.ForeignKey("run.run_id"), nullable=False)
    name = sa.Column(sa.String(256), nullable=False)
    step = sa.Column(sa.BigInteger)
    value = sa.Column(sa.Float)
    timestamp = sa.Column(EpochDateTime)

    def to_json(self):
        return {
            "name": self.name,
            "step": self.step,
            "value": self.value,
            "timestamp": self.timestamp,
        }


class MetricChunk(Base):
    """Added: the ``metric`` rows ``first_id`` to ``last_id`` (``count`` of them, of one run
    and name, in the order of ``metric_id``) as little-endian arrays: ``steps`` int64,
    ``values`` and ``timestamps`` float64 (NaN for NULL). Consecutive steps (``first_step``,
    ``first_step + 1``, ...) are kept as ``first_step`` alone, with ``steps`` NULL. All
    three arrays are NULL when the points cannot be packed (e.g. a step that is no integer):
    then the rows are read."""

    __tablename__ = "metric_chunk"
    __table_args__ = (sa.Index("ix_metric_chunk_run_id_name", "run_id", "name"),)

    chunk_id = sa.Column(sa.Integer, primary_key=True)
    # no foreign key: a SqlStore of an older version deletes runs without knowing this table
    run_id = sa.Column(sa.String(24), nullable=False)
    name = sa.Column(sa.String(256), nullable=False)
    first_id = sa.Column(sa.BigInteger)
    last_id = sa.Column(sa.BigInteger)
    count = sa.Column(sa.Integer)
    first_step = sa.Column(sa.BigInteger)
    steps = sa.Column(sa.LargeBinary)
    values = sa.Column(sa.LargeBinary)
    timestamps = sa.Column(sa.LargeBinary)


class OutputChunk(Base):
    """Added: captured output of a run that is not in ``run.captured_out`` yet: the text a
    heartbeat added (``seq`` counts from 0 after each rewrite of ``run.captured_out``, which
    deletes the run's chunks)."""

    __tablename__ = "output_chunk"
    # the unique index also serves the lookups by run_id
    __table_args__ = (sa.UniqueConstraint("run_id", "seq", name="uq_output_chunk_run_id_seq"),)

    chunk_id = sa.Column(sa.Integer, primary_key=True)
    # no foreign key: a SqlStore of an older version deletes runs without knowing this table
    run_id = sa.Column(sa.String(24), nullable=False)
    seq = sa.Column(sa.Integer, nullable=False)
    text = sa.Column(sa.Text, nullable=False)


class JournalEvent(Base):
    """Added: the events of journals (``sacred.observers.journal``) the database has, one row
    per event, written in the transaction that wrote the event (by the observer, or by
    ``sacred sync``, which skips the events named here). The observer removes the rows of a
    run that ended with nothing in a journal."""

    __tablename__ = "journal_event"

    journal_id = sa.Column(sa.String(32), primary_key=True)
    seq = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    # no foreign key: a SqlStore of an older version deletes runs without knowing this table
    run_id = sa.Column(sa.String(24), nullable=False)


def _packed(typecode, seq):
    packed = array(typecode)
    try:
        packed.fromlist(seq)  # about twice as fast as array(typecode, seq)
    except TypeError:  # (the array is left empty)
        if typecode == "q":
            raise
        packed.fromlist([float("nan") if x is None else x for x in seq])
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def _consecutive(steps) -> bool:
    """Whether ``steps`` (a non-empty list) are ``range(steps[0], steps[0] + len(steps))``."""
    first, n = steps[0], len(steps)
    if first.__class__ is not int or steps[-1] - first != n - 1:
        return False
    # the differences are the cached small int 1: counted by identity
    return list(map(sub, islice(steps, 1, None), steps)).count(1) == n - 1


def pack_points(steps, values, stamps) -> dict:
    """The ``first_step``/``steps``/``values``/``timestamps`` columns of a ``MetricChunk``
    (all None when a step is no int64 or a value no float)."""
    steps, values, stamps = (x if isinstance(x, list) else list(x) for x in (steps, values, stamps))
    try:
        if _consecutive(steps) and -(2**63) <= steps[0] and steps[-1] < 2**63:
            first_step, packed_steps = steps[0], None  # 8 bytes a point less to write
        else:
            first_step, packed_steps = None, _packed("q", steps)
        return {
            "first_step": first_step,
            "steps": packed_steps,
            "values": _packed("d", values),
            "timestamps": _packed("d", stamps),
        }
    except (TypeError, ValueError, OverflowError):
        return {"first_step": None, "steps": None, "values": None, "timestamps": None}


def unpack(typecode, blobs):
    """The joined arrays of ``blobs`` (see ``pack_points``) as an ``array``."""
    out = array(typecode)
    out.frombytes(b"".join(blobs))
    if sys.byteorder == "big":
        out.byteswap()
    return out


def schema_is_current(engine) -> bool:
    """Whether the database has every table and column of ``Base`` already: one statement
    that names them all and reads no row. A database with the newest columns went through
    ``create_all`` and ``upgrade_schema`` of this version, so they have nothing to do (the
    SqlObserver asks this at every start instead of reflecting the schema)."""
    quote = engine.dialect.identifier_preparer.quote
    tables = Base.metadata.sorted_tables
    columns = ", ".join(f"{quote(t.name)}.{quote(c.name)}" for t in tables for c in t.columns)
    names = ", ".join(quote(t.name) for t in tables)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"SELECT {columns} FROM {names} WHERE 1 = 0")).all()
    except sa.exc.DBAPIError:
        return False  # a table or column is missing (or the database is away)
    return True


def upgrade_schema(engine) -> None:
    """Bring a database made by the original SqlObserver up to this schema.

    Only additive changes, so older readers keep working: the ``run.result_json``,
    ``run.meta_json``, ``experiment.mainfile`` and ``experiment.base_dir_full`` columns, ``QUEUED`` in PostgreSQL's ``status_enum`` (Sacred 0.8.7
    lacked it), in PostgreSQL the index ``ix_metric_run_id_name_metric_id`` (built once,
    over the existing rows) and ``metric_chunk.first_step`` (lacking in the table's first
    version). Tables that are missing (``metric``, ``metric_chunk``, ``output_chunk``,
    ``journal_event``) are
    made by ``Base.metadata.create_all`` beforehand. In PostgreSQL ``output_chunk.text`` is
    stored uncompressed and ``run.captured_out`` compressed with lz4 (see
    ``_fast_output_storage``).
    """
    inspector = sa.inspect(engine)
    added = []
    if inspector.has_table("run"):
        columns = {c["name"] for c in inspector.get_columns("run")}
        added += [
            f"ALTER TABLE run ADD COLUMN {c} TEXT"
            for c in ("result_json", "meta_json")
            if c not in columns
        ]
    if inspector.has_table("experiment"):
        columns = {c["name"] for c in inspector.get_columns("experiment")}
        added += [
            f"ALTER TABLE experiment ADD COLUMN {c} TEXT"
            for c in ("mainfile", "base_dir_full")
            if c not in columns
        ]
    if inspector.has_table("metric_chunk"):
        if "first_step" not in {c["name"] for c in inspector.get_columns("metric_chunk")}:
            added.append("ALTER TABLE metric_chunk ADD COLUMN first_step BIGINT")
    postgresql = engine.dialect.name == "postgresql"
    if postgresql and inspector.has_table("metric"):
        index = "ix_metric_run_id_name_metric_id"
        if index not in {i["name"] for i in inspector.get_indexes("metric")}:
            added.append(f"CREATE INDEX IF NOT EXISTS {index} ON metric (run_id, name, metric_id)")
    for statement in added:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    if postgresql and inspector.has_table("output_chunk"):
        _fast_output_storage(engine)
    if postgresql:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ALTER TYPE status_enum ADD VALUE IF NOT EXISTS 'QUEUED'"))


def _fast_output_storage(engine) -> None:
    """``output_chunk.text`` stored uncompressed (PostgreSQL): a beat's text is written once
    and read rarely, and compressing it costs more than writing it (1 MB of log text: pglz
    ~25 ms, lz4 ~4 ms, uncompressed ~0 here; sending the text ~2 ms). The whole output,
    folded into ``run.captured_out`` at the end of the run, is compressed with lz4 where the
    server has it (PostgreSQL 14 and later): folding 70 MB took 1.3 s with pglz, 0.45 s
    with lz4, whose text is 14% larger. Readers see no difference."""
    # (each is changed only from the server's default: not set already, nor by hand)
    with engine.begin() as conn:
        if _attribute(conn, "attstorage", "output_chunk", "text") == "x":
            conn.execute(sa.text("ALTER TABLE output_chunk ALTER COLUMN text SET STORAGE EXTERNAL"))
    try:
        with engine.begin() as conn:
            if _attribute(conn, "attcompression", "run", "captured_out") == "":
                conn.execute(
                    sa.text("ALTER TABLE run ALTER COLUMN captured_out SET COMPRESSION lz4")
                )
    except sa.exc.DBAPIError:
        pass  # a server before 14 (no attcompression), or built without lz4: pglz as before


def _attribute(conn, name, table, column):
    """PostgreSQL's ``pg_attribute.<name>`` of a column (None: no such column)."""
    return conn.execute(
        sa.text(
            f"SELECT {name} FROM pg_attribute "
            "WHERE attrelid = CAST(:table AS regclass) AND attname = :column"
        ),
        {"table": table, "column": column},
    ).scalar()
