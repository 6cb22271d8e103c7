"""GoogleCloudStorageObserver: runs stored in a GCS bucket, in the FileStorage layout.

It works like the S3Observer (same keys below ``basedir``, same reliability: a bucket
that cannot be reached never fails the run, what could not be uploaded is kept in a
journal for ``sacred sync``). google-cloud-storage is
imported when an observer is built (``pip install "sacred[gcs]"``); ``STORAGE_EMULATOR_HOST``
points the client to an emulator. The option is not among the default ones: pass it with
``Experiment(additional_cli_options=[gcs_option])``.
"""

from sacred.observers.gcs_observer.bucket import GcsBucket, make_client
from sacred.observers.gcs_observer.naming import _GCS_BAD_BUCKET as _BAD_BUCKET
from sacred.observers.gcs_observer.naming import gcs_bucket_problem as _bucket_problem
from sacred.observers.object_store.observer import ObjectStoreObserver

__all__ = ("GoogleCloudStorageObserver", "DEFAULT_GCS_PRIORITY")

DEFAULT_GCS_PRIORITY = 20


def _is_valid_bucket(name) -> bool:
    return _bucket_problem(name) is None


class GoogleCloudStorageObserver(ObjectStoreObserver):
    """Stores runs in ``gs://<bucket>/<basedir>/<id>/`` (the FileStorageObserver layout).

    ``client`` is a ``google.cloud.storage.Client``; by default one is made from the
    application default credentials (or for ``STORAGE_EMULATOR_HOST``).
    """

    STORE_NAME = "Google Cloud Storage"
    SCHEME = "gs"
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
        self._explicit_client = client is not None
        if client is None:
            client = make_client()
        self.client = client
        self._bucket = GcsBucket(client, bucket)
        self.bucket = self._bucket.bucket
        self._init_layout(bucket, basedir, resource_dir, source_dir, priority, failure_dir)

    @property
    def store_location(self):
        """What ``sacred.store.open_store`` takes to read this observer's runs: the
        ``gs://bucket/basedir`` location, or, with a ``client`` given here, a ``GcsStore``
        on that client."""
        location = f"gs://{self.bucket_id}/{self.basedir.strip('/')}"
        if not self._explicit_client:
            return location
        from sacred.observers.gcs_observer.store import GcsStore

        return GcsStore(location, client=self.client)
