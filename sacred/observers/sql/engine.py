"""The SQLAlchemy engine of a database URL, and what its errors mean.

SQLAlchemy is imported by these functions, not by this module: the observer imports it, and
``from sacred.observers import SqlObserver`` must not import SQLAlchemy.
"""

import importlib.util
import os
import threading

__all__ = ("import_sqlalchemy", "create_engine", "shared_engine", "is_transient", "describe")


def import_sqlalchemy():
    """The ``sqlalchemy`` module, or an ImportError saying how to install it."""
    try:
        import sqlalchemy
    except ImportError as e:
        raise ImportError(
            'The SqlObserver needs SQLAlchemy. Install it with: pip install "sacred[sql]"'
        ) from e
    return sqlalchemy


def _has_module(name):
    return importlib.util.find_spec(name) is not None


def create_engine(url, echo=False):
    """An engine for ``url`` (a string or SQLAlchemy URL)."""
    sa = import_sqlalchemy()
    url = sa.engine.make_url(url)
    # "postgresql://" means psycopg2 to SQLAlchemy; use psycopg 3 when only that is installed
    if url.drivername == "postgresql" and not _has_module("psycopg2") and _has_module("psycopg"):
        url = url.set(drivername="postgresql+psycopg")
    kwargs = {}
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # one in-memory database shared by the main and the heartbeat thread
        kwargs = {"poolclass": sa.pool.StaticPool, "connect_args": {"check_same_thread": False}}
    return sa.create_engine(url, echo=echo, **kwargs)


_SHARED = {}  # (process id, URL, echo) -> engine
_SHARED_LOCK = threading.Lock()


def shared_engine(url, echo=False):
    """The engine of ``url`` that the SqlObservers of this process share: a new observer
    for each run (``sacred worker``, sweeps, ``open_observer``) reuses its connections
    instead of connecting anew (20-30 ms a run to PostgreSQL). An in-memory SQLite database
    is never shared (each observer has its own). After a fork, the child makes its own."""
    sa = import_sqlalchemy()
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        return create_engine(parsed, echo)
    key = (os.getpid(), parsed.render_as_string(hide_password=False), bool(echo))
    with _SHARED_LOCK:
        engine = _SHARED.get(key)
        if engine is None:
            engine = _SHARED[key] = create_engine(parsed, echo)
    return engine


_INHERITED = []  # in a forked child: the parent's engines, never used nor closed here


def _forget_shared_engines():
    """In a forked child: the parent's engines are left alone (closing, or collecting,
    their connections would end the parent's sessions); the child makes its own."""
    global _SHARED_LOCK
    _SHARED_LOCK = threading.Lock()
    _INHERITED.extend(_SHARED.values())
    _SHARED.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_shared_engines)


def is_transient(error) -> bool:
    """Whether retrying later may succeed (connection lost, server down, database locked)."""
    from sqlalchemy import exc

    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(
        error, (exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, exc.TimeoutError)
    ):
        return True
    # the driver's own errors (metric rows go through SQLite's raw connection): DB-API
    # OperationalError/InterfaceError, e.g. "database is locked"
    return any(
        cls.__name__ in ("OperationalError", "InterfaceError")
        and cls.__module__.split(".")[0] in ("sqlite3", "_sqlite3", "psycopg", "psycopg2")
        for cls in type(error).__mro__
    )


def describe(error) -> str:
    """The driver's message, without SQLAlchemy's statement dump and help link."""
    orig = getattr(error, "orig", None)
    return str(orig if orig is not None else error).strip()
