"""What a ``SqlStore`` changes (a mixin of the store): ``delete`` a run with what only it
uses, ``update_meta`` (the ``comment``/``priority`` columns and the added ``run.meta_json``)
and ``import_run`` (a run read from another store, written in the SqlObserver's tables with
the observer's own row writers from ``rows``) and ``fold_output`` (the output chunks of runs
that died into ``run.captured_out``)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from sacred.observers.sql import schema as b
from sacred.observers.sql.output import fold, forget_chunks
from sacred.observers.sql.rows import insert_points, result_columns, sqlite_insert, storable_text
from sacred.observers.sql.store_keys import EPOCH, META_COLUMNS, TIME_COLUMNS, public_id, run_key
from sacred.observers.sql.store_metrics import as_list
from sacred.serializer import flatten
from sacred.store.base import DEFAULT_DEAD_AFTER, StoreError, merge_meta

__all__ = ("SqlStoreWrites",)

#: how many characters ``run.run_id`` holds (VARCHAR(24) in the original's schema)
_RUN_ID_LENGTH = b.Run.__table__.c.run_id.type.length


class SqlStoreWrites:
    """The writing methods of ``SqlStore``: they use its ``engine``, ``dialect``, tables
    ``t``, ``get``/``_require_run``, the table checks and the metric cache."""

    def delete(self, run_id) -> None:
        """Remove the run, its metric rows, output chunks, artifacts and resource links, and
        the resources, experiment (with its sources, dependencies, repositories) and host no
        other run uses."""
        t = self.t
        with self.engine.begin() as conn:
            key = self._require_run(conn, run_id)
            run = conn.execute(
                sa.select(t.run.c.experiment_id, t.run.c.host_id).where(t.run.c.run_id == key)
            ).first()
            if self._has_metric_table():
                conn.execute(t.metric.delete().where(t.metric.c.run_id == key))
            if self._has_chunk_table():
                conn.execute(t.chunk.delete().where(t.chunk.c.run_id == key))
            if self._has_output_chunks():
                conn.execute(t.output_chunk.delete().where(t.output_chunk.c.run_id == key))
            conn.execute(t.artifact.delete().where(t.artifact.c.run_id == key))
            self._forget_claims(conn, key)
            rr = t.run_resources.c
            resource_ids = [
                r[0] for r in conn.execute(sa.select(rr.resource_id).where(rr.run_id == key))
            ]
            conn.execute(t.run_resources.delete().where(rr.run_id == key))
            conn.execute(t.run.delete().where(t.run.c.run_id == key))
            for rid in resource_ids:
                if not _used(conn, rr.resource_id, rid):
                    conn.execute(t.resource.delete().where(t.resource.c.resource_id == rid))
            if run.host_id is not None and not _used(conn, t.run.c.host_id, run.host_id):
                conn.execute(t.host.delete().where(t.host.c.host_id == run.host_id))
            ex_id = run.experiment_id
            if ex_id is not None and not _used(conn, t.run.c.experiment_id, ex_id):
                for assoc, table, column in (
                    (t.ex_sources, t.source, "source_id"),
                    (t.ex_deps, t.dependency, "dependency_id"),
                    (t.ex_repos, t.repository, "repository_id"),
                ):
                    ids = [
                        r[0]
                        for r in conn.execute(
                            sa.select(assoc.c[column]).where(assoc.c.experiment_id == ex_id)
                        )
                    ]
                    conn.execute(assoc.delete().where(assoc.c.experiment_id == ex_id))
                    for other in set(ids):
                        if not _used(conn, assoc.c[column], other):
                            conn.execute(table.delete().where(table.c[column] == other))
                conn.execute(t.experiment.delete().where(t.experiment.c.experiment_id == ex_id))
        for cached in [k for k in self._metric_cache if k[0] == key]:
            del self._metric_cache[cached]

    def update_meta(self, run_id, updates: dict) -> dict:
        """Merge ``updates`` into the run's ``meta``; returns the new ``meta``.

        ``comment`` and ``priority`` (a number) go to their columns of the original
        schema; every other key to the added column ``run.meta_json``, which is made
        here if the database lacks it. ``command`` is the run's command and cannot be
        changed. The SqlObserver writes ``meta_json`` only when a run starts (or is
        queued or continued), so a running run keeps what is set here.
        """
        if "command" in updates:
            raise StoreError("meta.command is the command of the run; it cannot be changed")
        priority = updates.get("priority")
        if priority is not None and (
            not isinstance(priority, (int, float)) or isinstance(priority, bool)
        ):
            raise StoreError(f"meta.priority must be a number in a SQL store, not {priority!r}")
        meta = merge_meta(self.get(run_id)["meta"], updates)  # RunNotFoundError if none
        if not self._has_meta_json():
            b.upgrade_schema(self.engine)
            self._meta_json = True
        extra = {k: v for k, v in meta.items() if k not in META_COLUMNS}
        values = {"meta_json": json.dumps(extra) if extra else None}
        if "comment" in updates:
            values["comment"] = meta.get("comment", "")  # the observer's "no comment"
        if "priority" in updates:
            values["priority"] = meta.get("priority", 0)
        run = self.t.run
        with self.engine.begin() as conn:
            conn.execute(run.update().where(run.c.run_id == run_key(run_id)).values(**values))
        self.fold_output([run_id])  # a write that touches a run that died folds its output
        return self.get(run_id)["meta"]

    def fold_output(self, run_ids=None, dead_after=DEFAULT_DEAD_AFTER) -> list:
        """Fold the ``output_chunk`` rows of runs that no process writes any more into
        ``run.captured_out``, as the observer does when a run ends, so that the original's
        readers see the whole output of a run that was killed; returns the ids of the runs
        folded. ``run_ids``: those runs (default: every run with chunks). A RUNNING run
        whose heartbeat is at most ``dead_after`` seconds old is left to its observer."""
        if not self._has_output_chunks():
            return []
        t = self.t
        chunked = sa.select(t.output_chunk.c.run_id).distinct()
        stmt = sa.select(t.run.c.run_id, t.run.c.status, t.run.c.heartbeat, t.run.c.start_time)
        stmt = stmt.where(t.run.c.run_id.in_(chunked))
        if run_ids is not None:
            stmt = stmt.where(t.run.c.run_id.in_([run_key(r) for r in run_ids]))
        folded = []
        with Session(self.engine) as session:
            for r in session.execute(stmt.order_by(t.run.c.id)).all():
                record = {"status": r.status, "heartbeat": r.heartbeat, "start_time": r.start_time}
                if self.live_state(record, dead_after=dead_after) == "RUNNING":
                    continue  # its observer folds it when it ends
                fold(session, r.run_id, None)
                folded.append(public_id(r.run_id))
            session.commit()
        return folded

    def import_run(
        self, record, metrics=None, artifacts=None, sources=None, resources=None, new_id=False
    ):
        """Write a run read from another store in the SqlObserver's tables; returns its id.

        The run keeps its id, unless ``new_id`` or its id does not fit ``run.run_id``
        (24 characters, as in the original's schema: a TinyDB id has 32), on every
        database alike (SQLite would store it): then the run is numbered as the
        SqlObserver numbers runs (``sacred export`` records the old id in the copy's
        ``meta.exported_from``)."""
        b.Base.metadata.create_all(self.engine)
        b.upgrade_schema(self.engine)  # a database of the original SqlObserver
        self._result_json = self._meta_json = self._mainfile = True
        self._has_tables = True
        self._metric_table = True
        self._output_chunks = True
        wanted = record.get("_id")
        with Session(self.engine) as session:
            if new_id or wanted is None or len(run_key(wanted)) > _RUN_ID_LENGTH:
                run_id = str(b.next_run_id(session))
            else:
                run_id = run_key(wanted)
                if session.execute(sa.select(b.Run.id).where(b.Run.run_id == run_id)).first():
                    raise StoreError(
                        f"Run {run_id} already exists in {self.url}; import it under a new id "
                        "instead (new_id=True, or --new-ids on the command line)."
                    )
            experiment = self._import_experiment(session, record.get("experiment") or {}, sources)
            host = b.Host.get_or_create(record.get("host") or {}, session)
            meta = record.get("meta") or {}
            status = record.get("status")
            if status not in b.STATUSES:
                status = "INTERRUPTED"
            trace = record.get("fail_trace")
            if isinstance(trace, list):
                trace = "\n".join(trace)
            times = {}
            for name in TIME_COLUMNS:
                value = record.get(name)
                if isinstance(value, str):
                    value = _dt.datetime.fromisoformat(value)
                if isinstance(value, _dt.datetime) and value.tzinfo is not None:
                    value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
                times[name] = value
            run = b.Run(
                run_id=run_id,
                config=json.dumps(flatten(record.get("config") or {})),
                info=json.dumps(flatten(record.get("info") or {})),
                command=b._fit(record.get("command"), b.Run.command),
                priority=meta.get("priority", 0),
                comment=meta.get("comment", ""),
                meta_json=_meta_json(meta),
                experiment=experiment,
                host=host,
                status=status,
                captured_out=storable_text(record.get("captured_out")),
                fail_trace=storable_text(trace),
                **times,
                **result_columns(record.get("result")),
            )
            session.add(run)
            names = [a["name"] if isinstance(a, dict) else a for a in record.get("artifacts") or []]
            names += [n for n in artifacts or {} if n not in names]
            for name in names:
                content = (artifacts or {}).get(name)
                session.add(
                    b.Artifact(filename=b._fit(name, b.Artifact.filename), content=content, run=run)
                )
            for entry in record.get("resources") or []:
                filename = entry[0]
                content = (resources or {}).get(filename)
                if content is None:
                    continue  # a resource without content cannot be stored here
                md5 = hashlib.md5(content).hexdigest()
                stored = b._fit(filename, b.Resource.filename)
                resource = session.query(b.Resource).filter_by(
                    filename=stored, md5sum=md5
                ).first() or b.Resource(filename=stored, md5sum=md5, content=content)
                if resource not in run.resources:
                    run.resources.append(resource)
            session.flush()
            # the whole output is in run.captured_out: no chunks (an older SqlStore that
            # deleted a run of this id may have left some)
            forget_chunks(session, run_id)
            connection = session.connection()
            for name, m in (metrics or {}).items():
                steps = as_list(m["steps"], None)
                values = as_list(m["values"], None)
                stamps = [_epoch(t) for t in as_list(m["timestamps"], None)]
                n = min(len(steps), len(values), len(stamps))
                points = (run_id, name, steps[:n], values[:n], stamps[:n])
                if self.dialect == "sqlite":  # timestamps are epoch seconds already
                    sqlite_insert(connection.connection.dbapi_connection, *points)
                else:
                    insert_points(connection, *points)
            session.commit()
        return public_id(run_id)

    def _import_experiment(self, session, ex_info, sources):
        name = b._fit(ex_info.get("name"), b.Experiment.name)
        md5 = hashlib.md5(json.dumps(ex_info, default=str).encode("utf-8")).hexdigest()
        existing = session.query(b.Experiment).filter_by(name=name, md5sum=md5).first()
        if existing is not None:
            return existing
        stored_sources = []
        for entry in ex_info.get("sources") or []:
            filename = entry[0]
            content = (sources or {}).get(filename)
            if content is None:
                continue
            digest = hashlib.md5(content).hexdigest()
            stored = b._fit(filename, b.Source.filename)
            source = session.query(b.Source).filter_by(filename=stored, md5sum=digest).first()
            stored_sources.append(
                source
                or b.Source(
                    filename=stored, md5sum=digest, content=content.decode("utf-8", "replace")
                )
            )
        repositories = [
            b.Repository.get_or_create(r.get("url"), r.get("commit"), r.get("dirty"), session)
            for r in ex_info.get("repositories") or []
            if isinstance(r, dict)
        ]
        dependencies = [
            b.Dependency.get_or_create(d, session)
            for d in dict.fromkeys(ex_info.get("dependencies") or [])
        ]
        return b.Experiment(
            name=name,
            md5sum=md5,
            base_dir=b._fit(ex_info.get("base_dir"), b.Experiment.base_dir),
            mainfile=ex_info.get("mainfile"),
            base_dir_full=ex_info.get("base_dir"),
            sources=list(dict.fromkeys(stored_sources)),
            repositories=list(dict.fromkeys(repositories)),
            dependencies=list(dict.fromkeys(dependencies)),
        )


def _meta_json(meta: dict):
    """The ``run.meta_json`` of an imported run: its ``meta`` without the column keys and
    the queue time (as the SqlObserver writes it, see ``continued.meta_columns``)."""
    skip = (*META_COLUMNS, "queue_time")
    extra = {k: v for k, v in meta.items() if k not in skip}
    return json.dumps(flatten(extra)) if extra else None


def _used(conn, column, value) -> bool:
    return conn.execute(sa.select(column).where(column == value).limit(1)).first() is not None


def _epoch(value):
    """A timestamp (datetime, ISO string or number) as float seconds since the epoch."""
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            return value.timestamp()
        return (value - EPOCH).total_seconds()
    return None if value is None else float(value)
