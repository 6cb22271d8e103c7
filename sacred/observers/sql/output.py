"""A run's captured output in the SqlObserver's tables: ``run.captured_out`` (the
original's column) followed by the run's ``output_chunk`` rows in the order of ``seq``.

Writing (the observer, one transaction a heartbeat): ``write_beat`` adds what is new as one
``output_chunk`` row, so a beat costs what it adds, not what is stored (the databases
rewrite a whole value to append to it). ``run.captured_out`` is rewritten with the whole
output, and the run's chunks deleted, when the text in chunks has become at least as long
as ``run.captured_out`` (a doubling schedule) as long as the output stays within
``fold_limit`` characters, and at the end of the run (``fold``, whatever the length). So
the original's readers, which read ``run.captured_out`` alone, see the whole output once
the run has ended and a prefix of it (at least half of it, up to the limit) before.

The limit: in SQLite any change of a row rewrites all of it, so each heartbeat (which
writes ``run.info`` and ``run.heartbeat``) costs ~6 ms a MB held in ``run.captured_out``;
there the limit is 64 KiB. PostgreSQL keeps a long value apart from its row, so only the
rewrites cost: 20 ms a MB and more (compressed with pglz), and a doubling schedule rewrites
twice the output, so without a limit each MB of output would cost 40 ms more; there (and
in other databases) it is 1 MiB: the rewrites of a run cost ~2 MiB's worth in all.

The observer does not keep the output it wrote (the run extends its string in place when
nobody else holds it): it keeps its length and its first and last 64 KiB, and takes the
next heartbeat's text for an extension when it agrees with them. A text that does not (a
``captured_out_filter`` that rewrote what was printed) is written whole again.

Reading (``read_outputs``): the run's ``run.captured_out`` and its chunks in one statement,
so both come from one snapshot of the database: a reader never sees text twice or misses
text while a beat or a rewrite commits. ``output_expression`` is the same text as an SQL
expression, for queries on ``captured_out``.

SQLAlchemy, and ``schema`` which imports it, are imported inside the functions: the observer
imports this module, and ``from sacred.observers import SqlObserver`` must not import
SQLAlchemy.
"""

from typing import NamedTuple, Optional

from sacred.observers.sql.rows import storable_text
from sacred.observers.sql.store_keys import in_batches

__all__ = (
    "OutputState",
    "fold_limit_of",
    "write_beat",
    "stored_state",
    "fold",
    "folded_columns",
    "forget_chunks",
    "read_outputs",
    "output_expression",
)

FOLD_LIMITS = {"sqlite": 64 * 1024}  # characters; see the module's docstring
DEFAULT_FOLD_LIMIT = 1024 * 1024
_PROBE = 64 * 1024  # characters compared at each end to recognise an extension


class OutputState(NamedTuple):
    """What the observer knows to be in the database of a run's output (None: unknown)."""

    length: int  # characters in run.captured_out and the chunks
    folded: int  # of them in run.captured_out
    seq: int  # the next chunk's seq
    head: str  # the first _PROBE characters
    tail: str  # the last _PROBE characters


def fold_limit_of(dialect: str) -> int:
    """Up to how many characters ``run.captured_out`` is kept whole while a run goes on."""
    return FOLD_LIMITS.get(dialect, DEFAULT_FOLD_LIMIT)


def _state(text, folded, seq) -> OutputState:
    return OutputState(len(text), folded, seq, text[:_PROBE], text[-_PROBE:])


def _extends(state: OutputState, text: str) -> bool:
    n = state.length
    return (
        len(text) >= n
        and text.startswith(state.head)
        and text[max(0, n - len(state.tail)) : n] == state.tail
    )


def write_beat(session, run_id, state: Optional[OutputState], text, fold_limit: int):
    """Write the output ``text`` (all of it so far) of a heartbeat, in ``session``'s
    transaction; returns ``(values of run columns to set with the beat's, new state)``.

    An extension of the output known to be stored adds a chunk, or rewrites
    ``run.captured_out`` when the doubling schedule says so; anything else (the output
    unknown, or changed) is written again: ``run.captured_out`` holds the first
    ``fold_limit`` characters and one chunk the rest. Only what is written is scanned for
    NUL characters (``storable_text`` keeps the length).
    """
    text = text or ""
    if state is not None and _extends(state, text):
        n = len(text)
        if n == state.length:
            return {}, state
        if n <= fold_limit and n >= 2 * state.folded:
            if state.seq:  # (none were added since the last rewrite: nothing to delete)
                forget_chunks(session, run_id, moved=True)
            return {"captured_out": storable_text(text)}, _state(text, n, 0)
        _add_chunk(session, run_id, state.seq, text[state.length :])
        return {}, _state(text, state.folded, state.seq + 1)
    forget_chunks(session, run_id, moved=True)
    folded = text[:fold_limit]
    seq = 0
    if len(text) > len(folded):
        _add_chunk(session, run_id, seq, text[len(folded) :])
        seq += 1
    return {"captured_out": storable_text(folded)}, _state(text, len(folded), seq)


def stored_state(session, run_id):
    """``(state, text)`` of the output the database holds for a run (a continued run: its
    next heartbeats carry this text first, and extend it), or None if there is no such run.
    One statement, as ``read_outputs``."""
    folded, texts, last = None, [], None
    for seq, text in _output_rows(session.connection(), [run_id]):
        if seq == -1:
            folded = len(text or "")
        else:
            last = seq
        texts.append(text or "")
    if folded is None:
        return None
    text = "".join(texts)
    return _state(text, folded, 0 if last is None else last + 1), text


def fold(session, run_id, state: Optional[OutputState]):
    """All of a run's output into ``run.captured_out``, no chunk left (a run that ended, or
    was continued). Returns the new state."""
    from sacred.observers.sql.schema import Run  # lazy: imports SQLAlchemy

    columns, new_state = folded_columns(session, run_id, state)
    if columns:
        run = Run.__table__
        session.execute(run.update().where(run.c.run_id == run_id).values(**columns))
        forget_chunks(session, run_id, moved=True)
    return new_state


def folded_columns(session, run_id, state: Optional[OutputState], text=None):
    """``(run columns, new state)`` that fold a run's chunks into ``run.captured_out``
    (no columns: nothing to fold). The caller updates the run with them, together with
    its other columns (SQLite rewrites a whole row at each UPDATE), and then deletes the
    chunks (``forget_chunks``). ``text``: the whole output if the caller has it (the run's
    last beat, written in this transaction), so that it is not read back."""
    if state is not None and state.length == state.folded:
        return {}, state  # no chunks
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # joined by the server: the text does not travel to the client and back
        from sacred.observers.sql.schema import OutputChunk, Run  # lazy: imports SQLAlchemy

        whole = output_expression("postgresql", Run.__table__, OutputChunk.__table__)
        new_state = None if state is None else state._replace(folded=state.length, seq=0)
        return {"captured_out": whole}, new_state
    if text is None or state is None or len(text) != state.length:
        text = read_outputs(connection, [run_id]).get(run_id)
        if text is None:
            return {}, state
    return {"captured_out": storable_text(text)}, _state(text, len(text), 0)


def forget_chunks(session, run_id, moved=False) -> None:
    """Delete the ``output_chunk`` rows of a run. ``moved``: their text is in
    ``run.captured_out`` now (or written again), so SQLite need not overwrite it with
    zeros, as Debian's and other builds do by default (SECURE_DELETE: 60 MB of chunks took
    180 ms to delete). The chunks of a deleted run are overwritten as the build does."""
    from sacred.observers.sql.schema import OutputChunk  # lazy: imports SQLAlchemy

    chunk = OutputChunk.__table__
    connection = session.connection()
    secure = None
    if moved and connection.dialect.name == "sqlite":
        secure = connection.exec_driver_sql("PRAGMA secure_delete").scalar()
    if secure is None:  # (another database, or a build without the pragma)
        connection.execute(chunk.delete().where(chunk.c.run_id == run_id))
        return
    connection.exec_driver_sql("PRAGMA secure_delete = FAST")
    try:
        connection.execute(chunk.delete().where(chunk.c.run_id == run_id))
    finally:
        connection.exec_driver_sql(f"PRAGMA secure_delete = {int(secure)}")


def _add_chunk(session, run_id, seq, text) -> None:
    from sacred.observers.sql.schema import OutputChunk  # lazy: imports SQLAlchemy

    row = {"run_id": run_id, "seq": seq, "text": storable_text(text)}
    session.execute(OutputChunk.__table__.insert(), row)


def read_outputs(conn, run_ids, chunks: bool = True) -> dict:
    """``{run_id: output}`` of the runs (``run.run_id`` values) there are: ``run.captured_out``
    followed by the run's chunks, None when the column is NULL and there are none. One
    statement per 500 runs (a ``UNION ALL``): a consistent snapshot. ``chunks=False`` for a
    database without the ``output_chunk`` table."""
    parts = {}
    for batch in in_batches(run_ids):
        for run_id, seq, text in conn.execute(_outputs_statement(chunks), {"run_ids": batch}):
            if seq == -1:
                parts[run_id] = [text]
            elif run_id in parts:  # (chunks of a run deleted meanwhile are dropped)
                parts[run_id].append(text)
    return {
        run_id: None if texts == [None] else "".join(t or "" for t in texts)
        for run_id, texts in parts.items()
    }


_STATEMENTS = {}  # chunks (bool) -> the statement of _outputs_statement


def _outputs_statement(chunks=True):
    """``(run_id, seq, text)`` rows of the runs in the expanding parameter ``run_ids``, in
    the order of ``run_id``: ``run.captured_out`` as seq -1, then the chunks in the order of
    ``seq`` (built once)."""
    stmt = _STATEMENTS.get(chunks)
    if stmt is not None:
        return stmt
    import sqlalchemy as sa

    from sacred.observers.sql.schema import OutputChunk, Run  # lazy: imports SQLAlchemy

    run, ch = Run.__table__.c, OutputChunk.__table__.c
    ids = sa.bindparam("run_ids", expanding=True)
    head = sa.select(
        run.run_id, sa.literal_column("-1").label("seq"), run.captured_out.label("text")
    ).where(run.run_id.in_(ids))
    if chunks:
        # ordered by the unique index (run_id, seq): SQLite merges the two parts instead of
        # sorting the texts (60 MB of chunks: 230 -> 46 ms)
        both = sa.union_all(head, sa.select(ch.run_id, ch.seq, ch.text).where(ch.run_id.in_(ids)))
        stmt = both.order_by(both.selected_columns.run_id, both.selected_columns.seq)
    else:
        stmt = head
    return _STATEMENTS.setdefault(chunks, stmt)


def _output_rows(conn, run_ids):
    """``(seq, text)`` of the runs' output rows (see ``_outputs_statement``)."""
    rows = conn.execute(_outputs_statement(), {"run_ids": list(run_ids)})
    return [(seq, text) for _, seq, text in rows]


def output_expression(dialect: str, run, chunk=None):
    """The output of a run as an SQL expression over the ``run`` table (never NULL), with
    its chunks from the ``output_chunk`` table ``chunk`` (None: no such table)."""
    import sqlalchemy as sa

    own = sa.func.coalesce(run.c.captured_out, "")
    if chunk is None:
        return own
    of_run = chunk.c.run_id == run.c.run_id
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by

        joined = (
            sa.select(sa.func.string_agg(chunk.c.text, aggregate_order_by("", chunk.c.seq)))
            .where(of_run)
            .scalar_subquery()
        )
    elif dialect == "sqlite":  # the rows in the order of seq, then joined
        ordered = (
            sa.select(chunk.c.text).where(of_run).order_by(chunk.c.seq).correlate(run).subquery()
        )
        joined = sa.select(sa.func.group_concat(ordered.c.text, "")).scalar_subquery()
    else:
        return None
    return own + sa.func.coalesce(joined, "")
