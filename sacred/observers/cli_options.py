"""The command-line options that add an observer (``-F -m -s -t -S``, and ``-G``).

They live in this light module, apart from their observers, because every
``Experiment`` needs them for its help text while most scripts never touch the
backends: the observer class is imported only when an option is applied. Each
backend module re-exports its option under the original name
(``sacred.observers.mongo.mongo_db_option``, ...).
"""

import posixpath
import re

from sacred.commandline_options import cli_option
from sacred.utils import CommandLineError

__all__ = (
    "file_storage_option",
    "mongo_db_option",
    "sql_option",
    "tiny_db_option",
    "s3_option",
    "gcs_option",
    "parse_mongo_db_arg",
    "get_pattern",
    "s3_join",
    "gcs_join",
)


# ---------------------------------------------------------------- -F
@cli_option("-F", "--file_storage")
def file_storage_option(args, run):
    """Add a file-storage observer to the experiment.

    The value of the arguement should be the
    base-directory to write the runs to
    """
    from sacred.observers.file_storage import FileStorageObserver

    run.observers.append(FileStorageObserver(args))


# ---------------------------------------------------------------- -m
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
    from sacred.observers.mongo import MongoObserver

    run.observers.append(MongoObserver(**kwargs))


# ---------------------------------------------------------------- -s, -t
@cli_option("-s", "--sql")
def sql_option(args, run):
    """Add a SQL Observer to the experiment.

    The typical form is: dialect://username:password@host:port/database
    """
    from sacred.observers.sql import SqlObserver

    run.observers.append(SqlObserver(args))


@cli_option("-t", "--tiny_db")
def tiny_db_option(args, run):
    """Add a TinyDB Observer to the experiment.

    The argument is the path to be given to the TinyDbObserver.
    """
    from sacred.observers.tinydb_hashfs import TinyDbObserver

    run.observers.append(TinyDbObserver(path=args))


# ---------------------------------------------------------------- -S, -G
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_S3_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?$")
_S3_BAD_BUCKET = "Your chosen bucket name doesn't follow AWS bucket naming rules"
_GCS_BAD_BUCKET = "Your chosen bucket name doesn't follow Google Cloud Storage bucket naming rules"
_GCS_NAME = re.compile(r"[a-z0-9][a-z0-9._\-]*[a-z0-9]$")


def s3_join(*args) -> str:
    """Join parts of an S3 key with ``/`` (on every operating system)."""
    return posixpath.join(*args)


def gcs_join(*args) -> str:
    """Join parts of a GCS object name with ``/`` (on every operating system)."""
    return posixpath.join(*args)


def is_valid_s3_bucket(bucket_name: str) -> bool:
    """AWS rules: 3-63 chars; dot-separated labels of a-z, 0-9 and ``-`` (not at a label's
    start or end); not an IP address."""
    if not 3 <= len(bucket_name) <= 63:
        return False
    if not all(_S3_LABEL.match(label) for label in bucket_name.split(".")):
        return False
    return not _IPV4.match(bucket_name)


def gcs_bucket_problem(name):
    """Why ``name`` is not a valid Google Cloud Storage bucket name, or None."""
    if name.startswith("gs://"):
        return "Bucket names must not start with gs://"
    if not 3 <= len(name) <= 63:
        return "Bucket names must contain 3-63 characters"
    if name.lower() != name:
        return "Bucket names must not contain uppercase letters"
    if ".." in name:
        return "Bucket names must not contain '..'"
    if "goog" in name or "g00g" in name:
        return "Bucket names must not contain 'goog' or 'g00g'"
    if not _GCS_NAME.match(name):
        return (
            "Bucket names must start and end with a letter or digit and contain only "
            "a-z, 0-9, '-', '_' and '.'"
        )
    if _IPV4.match(name):
        return "Bucket names must not be IP addresses"
    return None


def parse_s3_location(value):
    """``s3://bucket/path`` -> ``(bucket, path)``, or a CommandLineError saying what is wrong."""
    match = re.match(r"s3://([^/]+)/(.*)$", value)
    if match is None:
        raise CommandLineError(
            f"Invalid S3 location {value!r}: enter the bucket and directory path like "
            "s3://<bucket>/path/to/exp"
        )
    bucket, basedir = match.groups()
    if not is_valid_s3_bucket(bucket):
        raise CommandLineError(f"Invalid S3 location {value!r}: {_S3_BAD_BUCKET}")
    return bucket, basedir


def parse_gcs_location(value):
    """``gs://bucket/path`` -> ``(bucket, path)``, or a CommandLineError."""
    match = re.match(r"gs://([^/]+)/(.*)$", value)
    if match is None:
        raise CommandLineError(
            f"Invalid Google Cloud Storage location {value!r}: enter the bucket and "
            "directory path like gs://<bucket>/path/to/exp"
        )
    return match.groups()


@cli_option("-S", "--s3")
def s3_option(args, run):
    """Add a S3 File observer to the experiment.

    The argument value should be
    `s3://<bucket>/path/to/exp`.
    """
    bucket, basedir = parse_s3_location(args)
    from sacred.observers.s3_observer import S3Observer

    run.observers.append(S3Observer(bucket=bucket, basedir=basedir))


@cli_option("-G", "--gcs")
def gcs_option(args, run):
    """Add a Google Cloud Storage File observer to the experiment.

    The argument value should be
    `gs://<bucket>/path/to/exp`.
    """
    bucket, basedir = parse_gcs_location(args)
    from sacred.observers.gcs_observer import GoogleCloudStorageObserver

    run.observers.append(GoogleCloudStorageObserver(bucket=bucket, basedir=basedir))
