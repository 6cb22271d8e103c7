"""What the parts of ``SqlStore`` (``store``, ``store_metrics``, ``store_writes``) share: run
ids as records and the ``run`` table have them, the run columns that are record fields, and
ids sent to the database in batches."""

import datetime as _dt

__all__ = (
    "EPOCH",
    "TIME_COLUMNS",
    "META_COLUMNS",
    "public_id",
    "run_key",
    "in_batches",
)

EPOCH = _dt.datetime(1970, 1, 1)
TIME_COLUMNS = ("start_time", "heartbeat", "stop_time", "queue_time")
META_COLUMNS = ("command", "comment", "priority")  # meta keys kept in columns of their own
_BATCH = 500  # ids per IN (...) list


def public_id(run_id):
    """A record's ``_id``: the ``run.run_id`` text, as an int when it is digits."""
    return int(run_id) if isinstance(run_id, str) and run_id.isdigit() else run_id


def run_key(run_id) -> str:
    """The ``run.run_id`` text of a record's ``_id``."""
    return str(run_id).strip()


def in_batches(seq, size=_BATCH):
    """``seq`` as lists of at most ``size`` items (for ``IN (...)`` lists)."""
    seq = list(seq)
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


# the statement_timeout (ms) that a PostgreSQL connection of a store's query engine has in
# its session, in the connection's info (see SqlStore._query_connection)
_SESSION_TIMEOUT = "sacred_statement_timeout"
