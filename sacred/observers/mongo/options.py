"""The ``-m``/``--mongo_db`` command-line option and the grammar of its value.

Every ``Experiment`` imports this module for its help text, so it stays light: the observer
is imported only when the option is applied.
"""

import re

from sacred.commandline_options import cli_option
from sacred.utils import CommandLineError

__all__ = ("mongo_db_option", "parse_mongo_db_arg", "get_pattern")

_NAME = r"[_A-Za-z][0-9A-Za-z#%&'()+\-;=@\[\]^_{}]{0,63}"
_HOST_LABEL = r"[0-9A-Za-z](?:[0-9A-Za-z\-]{0,61}[0-9A-Za-z])?"
_HOST = rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*"
_PORT = r"\d{1,5}"
_EXPECTED_FORM = "`[host:port:]db_name[.collection[:id]][!priority]` or `host:port`"


def get_pattern() -> str:
    """The regular expression of a ``-m`` value, with one named group per part.

    Either just ``host:port`` (groups ``host1``, ``port1``), or
    ``[host:port:]db_name[.collection[:id]][!priority]`` (groups ``host2``, ``port2``,
    ``db_name``, ``collection``, ``overwrite``, ``priority``).
    """
    host_only = rf"(?P<host1>{_HOST}):(?P<port1>{_PORT})"
    full = (
        rf"(?:(?P<host2>{_HOST}):(?P<port2>{_PORT}):)?"
        rf"(?P<db_name>{_NAME})"
        rf"(?:\.(?P<collection>{_NAME})(?::(?P<overwrite>\d{{1,12}}))?)?"
        r"(?:!(?P<priority>-?\d+))?"
    )
    return rf"^(?:{host_only}|{full})$"


def parse_mongo_db_arg(mongo_db: str) -> dict:
    """Turn a ``-m`` value into MongoObserver keyword arguments.

    >>> parse_mongo_db_arg("localhost:28017:foo.bar!17")
    {'url': 'localhost:28017', 'db_name': 'foo', 'collection': 'bar', 'priority': 17}
    """
    match = re.match(get_pattern(), mongo_db)
    if match is None:
        raise CommandLineError(
            f"Invalid MongoDB specification {mongo_db!r}: expected {_EXPECTED_FORM}, "
            "e.g. `localhost:27017:my_db.runs!10`."
        )
    g = match.groupdict()
    kwargs = {}
    if g["host1"]:
        kwargs["url"] = f"{g['host1']}:{g['port1']}"
    elif g["host2"]:
        kwargs["url"] = f"{g['host2']}:{g['port2']}"
    for key in ("db_name", "collection"):
        if g[key] is not None:
            kwargs[key] = g[key]
    if g["overwrite"] is not None:
        kwargs["overwrite"] = int(g["overwrite"])  # Mongo run ids are ints
    if g["priority"] is not None:
        kwargs["priority"] = int(g["priority"])
    return kwargs


@cli_option("-m", "--mongo_db")
def mongo_db_option(args, run):
    """Add a MongoDB Observer to the experiment.

    The argument value is the database specification.
    Should be in the form:

    `[host:port:]db_name[.collection[:id]][!priority]`
    """
    kwargs = parse_mongo_db_arg(args)
    # imported when the option is used: importing the observer with this module would slow
    # down every Experiment
    from sacred.observers.mongo.observer import MongoObserver

    run.observers.append(MongoObserver(**kwargs))
