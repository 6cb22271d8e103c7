"""Worker claims on runs of a SQL database (a mixin of ``SqlStore``): ``claim`` and ``claims``.

Claim number ``n`` of run ``7`` is the row ``run_claim('7', n, worker, at)`` of the added
table ``run_claim``, whose primary key is ``(run_id, attempt)``: of all the workers that
insert the same claim at once, from any process or machine, the database lets exactly one
commit it; the others hit the key (an IntegrityError) and lose. The table is made when the
first claim is taken (the original's tables, and the SqlObserver's, are left as they are:
a database written by either project stays readable by the other); ``delete`` removes a
run's claims with it. ``at`` is a naive UTC datetime.

Each statement is bounded by the store's ``query_timeout`` in PostgreSQL (``SET LOCAL
statement_timeout``, as for queries); SQLite waits for a locked database as its driver
does, and a claim that still finds it locked is tried again a few times.
"""

from __future__ import annotations

import datetime as _dt
import random
import time

import sqlalchemy as sa

from sacred.observers.sql.store_keys import run_key
from sacred.store.base import RunNotFoundError

__all__ = ("SqlStoreClaims", "run_claim")

_metadata = sa.MetaData()

#: claims of workers on runs (see the module's docstring); not in ``schema.Base``: only
#: stores that hand runs to workers have it
run_claim = sa.Table(
    "run_claim",
    _metadata,
    sa.Column("run_id", sa.String(24), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("worker", sa.String(256), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)

_LOCKED_RETRIES = 20  # SQLite: tries of a claim that finds the database locked


def _utcnow():
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


class SqlStoreClaims:
    """The ``claim``/``claims`` methods of ``SqlStore``: they use its ``engine``, tables
    ``t``, ``url``, ``_tables_exist`` and ``_query_connection`` (the query timeout)."""

    _claim_table = False  # True once the table is known to be there

    def _has_claim_table(self) -> bool:
        if not self._claim_table:
            self._claim_table = sa.inspect(self.engine).has_table("run_claim")
        return self._claim_table

    def _make_claim_table(self) -> None:
        if self._has_claim_table():
            return
        for attempt in range(6):  # workers starting at once race to create it
            try:
                run_claim.create(self.engine, checkfirst=True)
                break
            except sa.exc.DBAPIError:
                if attempt == 5:
                    raise
                time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))
        self._claim_table = True

    def claim(self, run_id, attempt: int, worker: str) -> bool:
        """Take claim number ``attempt`` on the run for ``worker``: True for exactly one of
        all the callers asking for the same run and attempt (see the module's docstring)."""
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise ValueError(f"attempt must be an integer >= 1, not {attempt!r}")
        if not self._tables_exist():
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.url}")
        self._make_claim_table()
        key = run_key(run_id)
        run = self.t.run.c
        for tries in range(_LOCKED_RETRIES):
            # one statement: the claim, if there is such a run
            values = sa.select(
                sa.literal(key, sa.String),
                sa.literal(attempt, sa.Integer),
                sa.literal(str(worker)[:256], sa.String),
                sa.literal(_utcnow(), sa.DateTime),
            ).where(sa.exists().where(run.run_id == key))
            insert = run_claim.insert().from_select(["run_id", "attempt", "worker", "at"], values)
            returning = self.engine.dialect.insert_returning
            if returning:  # (psycopg 3 gives the rowcount -1 for this statement)
                insert = insert.returning(run_claim.c.attempt)
            try:
                with self._query_connection() as conn:
                    result = conn.execute(insert)
                    inserted = len(result.all()) if returning else result.rowcount
                    if inserted < 0:  # unknown: is there such a run?
                        inserted = self._run_exists(conn, key)
                    conn.commit()
                if not inserted:
                    raise RunNotFoundError(f"There is no run {run_id!r} in {self.url}")
                return True
            except sa.exc.IntegrityError:
                return False  # another worker has it
            except sa.exc.OperationalError as e:
                locked = self.dialect == "sqlite" and "locked" in str(e.orig).lower()
                if not locked or tries == _LOCKED_RETRIES - 1:
                    raise
                time.sleep(random.uniform(0.01, 0.05))
        return False  # (not reached)

    def _run_exists(self, conn, key) -> bool:
        run = self.t.run.c
        return conn.execute(sa.select(run.run_id).where(run.run_id == key)).first() is not None

    def claims(self, run_id) -> list:
        """``[{"attempt", "worker", "at"}, ...]`` of the run, in the order of ``attempt``."""
        if not self._has_claim_table():
            return []
        c = run_claim.c
        with self._query_connection() as conn:
            rows = conn.execute(
                sa.select(c.attempt, c.worker, c.at)
                .where(c.run_id == run_key(run_id))
                .order_by(c.attempt)
            ).all()
        return [{"attempt": a, "worker": w, "at": at} for a, w, at in rows]

    def _forget_claims(self, conn, key) -> None:
        """Delete the claims of the run ``key`` (in ``delete``'s transaction)."""
        if self._has_claim_table():
            conn.execute(run_claim.delete().where(run_claim.c.run_id == key))
