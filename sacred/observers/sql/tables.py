"""The SqlObserver's tables in a database: made, or brought up to date, before a run is
written, and known to be current afterwards in this process.

``ensure_tables(engine)`` asks the database one statement (``schema.schema_is_current``)
the first time, and nothing afterwards for the same engine (the SqlObservers of a process
share their engines, see ``engine.shared_engine``): a worker or a sweep starting runs one
after the other does not reflect the schema for each. ``with_tables(engine, write)`` runs a
write; if it fails while the tables were only known from before, the database is looked at
again and the write tried once more (it may have been dropped and made anew meanwhile).

SQLAlchemy, and ``schema`` which imports it, are imported inside the functions.
"""

import random
import time
import weakref

from sacred.observers.sql.engine import is_transient

__all__ = ("ensure_tables", "with_tables")

# engines of databases whose schema is known to be current
_CURRENT = weakref.WeakSet()


def ensure_tables(engine) -> bool:
    """Make the tables and bring the schema up to date if needed; False when the database
    was not looked at (its schema is known to be current)."""
    from sacred.observers.sql.schema import Base, schema_is_current, upgrade_schema  # lazy

    if engine in _CURRENT:
        return False
    if schema_is_current(engine):  # one statement, instead of reflecting the schema
        _CURRENT.add(engine)
        return True
    # Processes starting at once on an empty PostgreSQL database race to create the
    # tables and the enum type; the loser retries and then finds them.
    for attempt in range(6):
        try:
            Base.metadata.create_all(engine)
            upgrade_schema(engine)  # a database of the original SqlObserver
            _CURRENT.add(engine)
            return True
        except Exception as e:
            # a database that is away: no use waiting (SQLite says "already exists" of a
            # table another process made meanwhile in an OperationalError too)
            if attempt == 5 or (is_transient(e) and "already exists" not in str(e)):
                raise
            time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))
    return True  # (not reached)


def with_tables(engine, write):
    """``write()`` on a database that has the tables (see the module's docstring)."""
    looked = ensure_tables(engine)
    try:
        return write()
    except Exception:
        if looked:
            raise
        _CURRENT.discard(engine)
        ensure_tables(engine)
        return write()
