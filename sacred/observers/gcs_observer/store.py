"""``GcsStore``: the runs a GoogleCloudStorageObserver wrote, for
``open_store("gs://bucket/prefix")``.

Everything but the bucket is ``sacred.observers.object_store.store.ObjectStore``. The client
is made from the application default credentials, or for ``STORAGE_EMULATOR_HOST``.
"""

import google.cloud.storage  # noqa: F401 (here so that open_store names the extra if missing)

from sacred.observers.gcs_observer.bucket import GcsBucket, make_client
from sacred.observers.gcs_observer.naming import _GCS_BAD_BUCKET, gcs_bucket_problem
from sacred.observers.object_store.store import ObjectStore, split_location
from sacred.store.base import StoreError

__all__ = ("GcsStore",)


class GcsStore(ObjectStore):
    """Runs in ``gs://<bucket>/<prefix>/<id>/`` (``prefix=`` may give the prefix instead).

    ``client`` is a ``google.cloud.storage.Client`` to use instead of a new one.
    """

    scheme = "gs"
    KIND = "Google Cloud Storage"

    def __init__(self, location, prefix=None, client=None):
        bucket, basedir = split_location(location, "gs", prefix)
        problem = gcs_bucket_problem(bucket)
        if problem is not None:
            raise StoreError(f"Invalid location {str(location)!r}: {_GCS_BAD_BUCKET}: {problem}")
        if client is None:
            try:
                client = make_client(user="GcsStore")
            except ConnectionError as e:
                raise StoreError(str(e)) from None
        super().__init__(GcsBucket(client, bucket), basedir)
