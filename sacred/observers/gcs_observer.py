"""Google Cloud Storage observer: the command-line option and key joining.

``GoogleCloudStorageObserver`` is added to this module by the GCS backend; the option
imports it only when it is applied. The option is not among the default ones: pass it
with ``Experiment(additional_cli_options=[gcs_option])``.
"""

import posixpath
import re

from sacred.commandline_options import cli_option
from sacred.utils import CommandLineError

__all__ = ("gcs_option", "gcs_join", "DEFAULT_GCS_PRIORITY")

DEFAULT_GCS_PRIORITY = 20


def gcs_join(*args) -> str:
    """Join parts of a GCS object name with ``/`` (on every operating system)."""
    return posixpath.join(*args)


def _parse_gcs_location(value):
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
    bucket, basedir = _parse_gcs_location(args)
    from sacred.observers.gcs_observer import GoogleCloudStorageObserver

    run.observers.append(GoogleCloudStorageObserver(bucket=bucket, basedir=basedir))
