"""How the SqlObserver writes each event of a running run into the open transaction (a
mixin of ``SqlObserver``): the beat (``run`` columns and the output, see ``output``), metric
points, resources, artifacts and the run's end. The observer's ``_write_ops`` calls the
``_apply_<event>`` methods, one transaction for one or more events.

SQLAlchemy, and ``schema`` which imports it, are imported inside the methods (see
``observer``).
"""

import json

from sacred.observers.sql import output
from sacred.observers.sql.rows import (
    insert_points,
    replace_artifact,
    result_columns,
    sqlite_insert,
    storable_text,
)
from sacred.serializer import flatten

__all__ = ("RunEventWrites",)


class RunEventWrites:
    """The ``_apply_*`` writers of a running run's events; they use the observer's
    ``run_id``, ``engine``, ``output_fold_limit``, ``_output_chunks`` and output state."""

    def _update_run(self, session, **values):
        from sacred.observers.sql.schema import Run  # lazy: imports SQLAlchemy

        table = Run.__table__
        session.execute(table.update().where(table.c.run_id == self.run_id).values(**values))

    def _output_state(self):
        """What is known of the stored output, with the changes of the open transaction."""
        return self._output if self._output_next is None else self._output_next[0]

    def _beat_text(self):
        """The whole output, as the run's last beat in the open transaction gave it."""
        return None if self._output_next is None else self._output_next[1]

    def _apply_heartbeat_event(self, session, info, captured_out, beat_time, result):
        values = {"info": json.dumps(flatten(info)), "heartbeat": beat_time}
        values.update(result_columns(result))
        if self._output_chunks:
            limit = self.output_fold_limit
            if limit is None:
                limit = output.fold_limit_of(self.engine.dialect.name)
            columns, state = output.write_beat(
                session, self.run_id, self._output_state(), captured_out, limit
            )
            values.update(columns)
            self._output_next = (state, captured_out)  # (the text: see _end_run)
        else:
            self._legacy_output(values, captured_out)
        self._update_run(session, **values)

    def _legacy_output(self, values, captured_out):
        from sacred.observers.sql.schema import Run  # lazy: imports SQLAlchemy

        captured_out = storable_text(captured_out)
        known = self._cout_db
        if known is None or not captured_out.startswith(known):
            values["captured_out"] = captured_out
        elif len(captured_out) > len(known):  # only the new text travels
            column = Run.__table__.c.captured_out
            from sqlalchemy import func

            values["captured_out"] = func.coalesce(column, "") + captured_out[len(known) :]
        self._cout_next = captured_out

    def _end_run(self, session, **values):
        """The run's end: its columns, and all of its output into ``run.captured_out``, in
        one UPDATE (SQLite rewrites a whole row, output included, at each UPDATE)."""
        folding = False
        if self._output_chunks:
            columns, state = output.folded_columns(
                session, self.run_id, self._output_state(), self._beat_text()
            )
            values.update(columns)
            folding = bool(columns)
            self._output_next = (state, None)
        self._update_run(session, **values)
        if folding:
            output.forget_chunks(session, self.run_id, moved=True)

    def _apply_log_metrics(self, session, metrics_by_name):
        connection = session.connection()
        sqlite = connection.dialect.name == "sqlite"
        for name, series in metrics_by_name.items():
            # timestamps were made epoch seconds by log_metrics
            steps, values, stamps = series["steps"], series["values"], series["timestamps"]
            if sqlite:
                raw = connection.connection.dbapi_connection
                sqlite_insert(raw, self.run_id, name, steps, values, stamps)
            else:
                insert_points(connection, self.run_id, name, steps, values, stamps)

    def _apply_resource_event(self, session, filename, stored_copy=None):
        from sqlalchemy import select

        # lazy: imports SQLAlchemy
        from sacred.observers.sql.schema import Resource
        from sacred.observers.sql.schema import run_resource_association as assoc

        resource = Resource.get_or_create(filename, session, path=stored_copy)
        session.add(resource)
        session.flush()
        linked = session.execute(
            select(assoc.c.run_id).where(
                assoc.c.run_id == self.run_id, assoc.c.resource_id == resource.resource_id
            )
        ).first()
        if linked is None:
            session.execute(
                assoc.insert().values(run_id=self.run_id, resource_id=resource.resource_id)
            )

    def _apply_artifact_event(self, session, name, filename, stored_copy=None, replace=False):
        from sacred.observers.sql.schema import Artifact  # lazy: imports SQLAlchemy

        # a checkpoint replaces the last artifact of its name, if there is one
        if replace and replace_artifact(session, self.run_id, name, stored_copy or filename):
            return
        artifact = Artifact.create(name, stored_copy or filename)
        artifact.run_id = self.run_id
        session.add(artifact)

    def _apply_completed_event(self, session, stop_time, result):
        self._end_run(session, stop_time=stop_time, status="COMPLETED", **result_columns(result))

    def _apply_interrupted_event(self, session, interrupt_time, status):
        self._end_run(session, stop_time=interrupt_time, status=status)

    def _apply_failed_event(self, session, fail_time, fail_trace):
        self._end_run(
            session,
            stop_time=fail_time,
            status="FAILED",
            fail_trace=storable_text("\n".join(fail_trace)),
        )
