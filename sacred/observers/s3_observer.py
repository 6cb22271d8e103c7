"""S3 observer: the command-line option, bucket-name validation and key joining.

``S3Observer`` is added to this module by the S3 backend; the option imports it only
when it is applied.
"""

import posixpath
import re
import socket

from sacred.commandline_options import cli_option
from sacred.utils import CommandLineError

__all__ = ("s3_option", "s3_join", "_is_valid_bucket", "DEFAULT_S3_PRIORITY")

DEFAULT_S3_PRIORITY = 20

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?$")
_BAD_BUCKET = "Your chosen bucket name doesn't follow AWS bucket naming rules"


def s3_join(*args) -> str:
    """Join parts of an S3 key with ``/`` (on every operating system)."""
    return posixpath.join(*args)


def _is_valid_bucket(bucket_name: str) -> bool:
    """AWS rules: 3-63 chars; dot-separated labels of a-z, 0-9 and ``-`` (not at a label's
    start or end); not an IP address."""
    if not 3 <= len(bucket_name) <= 63:
        return False
    if not all(_LABEL.match(label) for label in bucket_name.split(".")):
        return False
    try:
        socket.inet_aton(bucket_name)
    except OSError:
        return True
    return False  # looks like an IP address


def _parse_s3_location(value):
    match = re.match(r"s3://([^/]+)/(.*)$", value)
    if match is None:
        raise CommandLineError(
            f"Invalid S3 location {value!r}: enter the bucket and directory path like "
            "s3://<bucket>/path/to/exp"
        )
    bucket, basedir = match.groups()
    if not _is_valid_bucket(bucket):
        raise CommandLineError(f"Invalid S3 location {value!r}: {_BAD_BUCKET}")
    return bucket, basedir


@cli_option("-S", "--s3")
def s3_option(args, run):
    """Add a S3 File observer to the experiment.

    The argument value should be
    `s3://<bucket>/path/to/exp`.
    """
    bucket, basedir = _parse_s3_location(args)
    from sacred.observers.s3_observer import S3Observer

    run.observers.append(S3Observer(bucket=bucket, basedir=basedir))
