"""GoogleCloudStorageObserver: runs stored in a GCS bucket, in the FileStorage layout.

It works like the S3Observer (same keys below ``basedir``, same reliability: a bucket
that goes away during a run never fails it, what could not be uploaded is kept in a local
file for ``sacred.observers.s3_observer.replay_fallback``). google-cloud-storage is
imported when an observer is built (``pip install "sacred[gcs]"``); ``STORAGE_EMULATOR_HOST``
points the client to an emulator. The option is not among the default ones: pass it with
``Experiment(additional_cli_options=[gcs_option])``.
"""

import os
import posixpath
import re
import socket

from sacred.commandline_options import cli_option
from sacred.observers.s3_observer import _ObjectStoreObserver
from sacred.utils import CommandLineError

__all__ = ("GoogleCloudStorageObserver", "gcs_option", "gcs_join", "DEFAULT_GCS_PRIORITY")

DEFAULT_GCS_PRIORITY = 20

_BAD_BUCKET = "Your chosen bucket name doesn't follow Google Cloud Storage bucket naming rules"
_NAME = re.compile(r"[a-z0-9][a-z0-9._\-]*[a-z0-9]$")


def gcs_join(*args) -> str:
    """Join parts of a GCS object name with ``/`` (on every operating system)."""
    return posixpath.join(*args)


def _bucket_problem(name):
    """Why ``name`` is not a valid bucket name, or None."""
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
    if not _NAME.match(name):
        return (
            "Bucket names must start and end with a letter or digit and contain only "
            "a-z, 0-9, '-', '_' and '.'"
        )
    try:
        socket.inet_aton(name)
    except OSError:
        return None
    return "Bucket names must not be IP addresses"


def _is_valid_bucket(name) -> bool:
    return _bucket_problem(name) is None


class GoogleCloudStorageObserver(_ObjectStoreObserver):
    """Stores runs in ``gs://<bucket>/<basedir>/<id>/`` (the FileStorageObserver layout).

    ``client`` is a ``google.cloud.storage.Client``; by default one is made from the
    application default credentials (or for ``STORAGE_EMULATOR_HOST``).
    """

    STORE_NAME = "Google Cloud Storage"
    FALLBACK_PREFIX = "sacred_gcs_fallback"
    DIR_EXISTS = "GCS dir at {} already exists"

    def __init__(
        self,
        bucket,
        basedir,
        resource_dir=None,
        source_dir=None,
        priority=DEFAULT_GCS_PRIORITY,
        client=None,
        failure_dir=None,
    ):
        problem = _bucket_problem(bucket)
        if problem is not None:
            raise ValueError(f"{_BAD_BUCKET}: {problem}")
        try:
            import google.cloud.storage as storage
        except ImportError as e:
            raise ImportError(
                'GoogleCloudStorageObserver needs google-cloud-storage: pip install "sacred[gcs]"'
            ) from e
        if client is None:
            from google.auth.exceptions import DefaultCredentialsError

            try:
                client = storage.Client()
            except DefaultCredentialsError as e:
                raise ConnectionError(
                    "Could not create Google Cloud Storage client, make sure you have "
                    "set the environment variable GOOGLE_APPLICATION_CREDENTIALS?"
                ) from e
        self.client = client
        self.bucket = client.bucket(bucket)
        self._init_layout(bucket, basedir, resource_dir, source_dir, priority, failure_dir)

    # ------------------------------------------------------------ store interface
    def _store_address(self):
        try:
            return self.client._connection.API_BASE_URL
        except AttributeError:
            return os.environ.get("STORAGE_EMULATOR_HOST", "https://storage.googleapis.com")

    def _store_bucket_exists(self):
        return self.client.lookup_bucket(self.bucket_id, timeout=(5, 60)) is not None

    def _store_create_bucket(self):
        self.client.create_bucket(self.bucket_id, timeout=(5, 60))

    def _store_subdirs(self, prefix):
        blobs = self.client.list_blobs(self.bucket_id, prefix=prefix, delimiter="/")
        for _ in blobs.pages:  # the prefixes are collected while paging
            pass
        return [p[len(prefix) :].rstrip("/") for p in blobs.prefixes]

    def _store_exists(self, key_or_prefix, prefix=False):
        if prefix:
            blobs = self.client.list_blobs(self.bucket_id, prefix=key_or_prefix, max_results=1)
            return any(True for _ in blobs)
        return self.bucket.blob(key_or_prefix).exists(timeout=(5, 60))

    def _store_put(self, key, data, content_type, if_absent=False):
        from google.api_core.exceptions import PreconditionFailed

        blob = self.bucket.blob(key)
        kwargs = {"if_generation_match": 0} if if_absent else {}
        try:
            blob.upload_from_string(
                data,
                content_type=content_type or "application/octet-stream",
                timeout=(5, 60),
                **kwargs,
            )
        except PreconditionFailed:
            return False
        return True


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
