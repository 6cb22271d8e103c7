"""The ``-S`` command-line option and the grammar of S3 locations (``s3://bucket/path``).

A light module: every Experiment imports it (through ``sacred.observers.cli_options``) for
its help text, so it imports neither boto3 nor the observer. The bucket-name rules
(``is_valid_s3_bucket``) are in ``naming``, which the observer uses too.
"""

import posixpath
import re

from sacred.commandline_options import cli_option
from sacred.observers.s3_observer.naming import _S3_BAD_BUCKET, is_valid_s3_bucket
from sacred.utils import CommandLineError

__all__ = ("s3_option", "s3_join", "is_valid_s3_bucket", "parse_s3_location", "_S3_BAD_BUCKET")


def s3_join(*args) -> str:
    """Join parts of an S3 key with ``/`` (on every operating system)."""
    return posixpath.join(*args)


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


@cli_option("-S", "--s3")
def s3_option(args, run):
    """Add a S3 File observer to the experiment.

    The argument value should be
    `s3://<bucket>/path/to/exp`.
    """
    bucket, basedir = parse_s3_location(args)
    # imported here: the observer (and boto3) only when the option is used, not by Experiment
    from sacred.observers.s3_observer.observer import S3Observer

    run.observers.append(S3Observer(bucket=bucket, basedir=basedir))
