"""The command-line options that add an observer (``-F -m -s -t -S``, and ``-G``).

Every ``Experiment`` needs them for its help text, while most scripts never touch the
backends. Each option and the grammar of its locations live in its backend's light
``options`` module (``sacred.observers.mongo.options``, ...), which imports the observer
only when the option is applied; this module maps the flags to them.
"""

import posixpath
import re

from sacred.commandline_options import cli_option
from sacred.observers.file_storage.options import file_storage_option
from sacred.observers.mongo.options import get_pattern, mongo_db_option, parse_mongo_db_arg
from sacred.observers.sql.options import sql_option
from sacred.observers.tinydb_hashfs.options import tiny_db_option
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
