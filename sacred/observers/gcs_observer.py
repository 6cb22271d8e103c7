"""GoogleCloudStorageObserver: runs stored in a GCS bucket, in the FileStorage layout.

It works like the S3Observer (same keys below ``basedir``, same reliability: a bucket
that goes away during a run never fails it, what could not be uploaded is kept in a local
file for ``sacred.observers.s3_observer.replay_fallback``). google-cloud-storage is
imported when an observer is built (``pip install "sacred[gcs]"``); ``STORAGE_EMULATOR_HOST``
points the client to an emulator. The option is not among the default ones: pass it with
``Experiment(additional_cli_options=[gcs_option])``.
"""

import os

from sacred.observers._object_store import _ObjectStoreObserver
from sacred.observers.cli_options import _GCS_BAD_BUCKET as _BAD_BUCKET
from sacred.observers.cli_options import gcs_bucket_problem as _bucket_problem
from sacred.observers.cli_options import gcs_join, gcs_option  # noqa: F401
from sacred.observers.cli_options import parse_gcs_location as _parse_gcs_location  # noqa: F401

__all__ = ("GoogleCloudStorageObserver", "gcs_option", "gcs_join", "DEFAULT_GCS_PRIORITY")

DEFAULT_GCS_PRIORITY = 20


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
