"""The ``-G`` command-line option and the grammar of Google Cloud Storage locations
(``gs://bucket/path``).

A light module: every Experiment imports it (through ``sacred.observers.cli_options``) for
its help text, so it imports neither google-cloud-storage nor the observer. The option is not
among the default ones: pass it with ``Experiment(additional_cli_options=[gcs_option])``. The
bucket-name rules (``gcs_bucket_problem``) are in ``naming``, which the observer uses too.
"""

import posixpath
import re

from sacred.commandline_options import cli_option
from sacred.observers.gcs_observer.naming import _GCS_BAD_BUCKET, gcs_bucket_problem
from sacred.utils import CommandLineError

__all__ = ("gcs_option", "gcs_join", "gcs_bucket_problem", "parse_gcs_location", "_GCS_BAD_BUCKET")


def gcs_join(*args) -> str:
    """Join parts of a GCS object name with ``/`` (on every operating system)."""
    return posixpath.join(*args)


def parse_gcs_location(value):
    """``gs://bucket/path`` -> ``(bucket, path)``, or a CommandLineError."""
    match = re.match(r"gs://([^/]+)/(.*)$", value)
    if match is None:
        raise CommandLineError(
            f"Invalid Google Cloud Storage location {value!r}: enter the bucket and "
            "directory path like gs://<bucket>/path/to/exp"
        )
    return match.groups()


@cli_option("-G", "--gcs")
def gcs_option(args, run):
    """Add a Google Cloud Storage File observer to the experiment.

    The argument value should be
    `gs://<bucket>/path/to/exp`.
    """
    bucket, basedir = parse_gcs_location(args)
    # imported here: the observer (and google-cloud-storage) only when the option is used
    from sacred.observers.gcs_observer.observer import GoogleCloudStorageObserver

    run.observers.append(GoogleCloudStorageObserver(bucket=bucket, basedir=basedir))
