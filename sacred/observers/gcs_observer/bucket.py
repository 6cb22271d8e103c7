"""``GcsBucket``: the ``Bucket`` operations with google-cloud-storage.

google-cloud-storage is imported by ``make_client`` only, when an observer or a store is
built (``pip install "sacred[gcs]"``); ``STORAGE_EMULATOR_HOST`` points the client to an
emulator. The version of an object is its generation.
"""

import os
from typing import Optional

from sacred.observers.object_store.bucket import Bucket, MissingObject, pages_checked

_TIMEOUT = (5, 60)  # connect, read: a run never waits long for a lost server


def make_client(user="GoogleCloudStorageObserver"):
    """A client from the application default credentials (or for ``STORAGE_EMULATOR_HOST``);
    ImportError naming the extra without the library, ConnectionError without credentials."""
    try:
        import google.cloud.storage as storage
    except ImportError as e:
        raise ImportError(f'{user} needs google-cloud-storage: pip install "sacred[gcs]"') from e
    from google.auth.exceptions import DefaultCredentialsError

    try:
        return storage.Client()
    except DefaultCredentialsError as e:
        raise ConnectionError(
            "Could not create Google Cloud Storage client, make sure you have "
            "set the environment variable GOOGLE_APPLICATION_CREDENTIALS?"
        ) from e


def _version(generation) -> Optional[str]:
    return None if generation is None else str(generation)


class GcsBucket(Bucket):
    def __init__(self, client, name):
        self.client = client
        self.name = name
        self.bucket = client.bucket(name)

    @property
    def address(self) -> str:
        try:
            return self.client._connection.API_BASE_URL
        except AttributeError:
            return os.environ.get("STORAGE_EMULATOR_HOST", "https://storage.googleapis.com")

    def bucket_exists(self) -> bool:
        return self.client.lookup_bucket(self.name, timeout=_TIMEOUT) is not None

    def create_bucket(self) -> bool:
        from google.api_core.exceptions import Conflict

        try:
            self.client.create_bucket(self.name, timeout=_TIMEOUT)
        except Conflict:  # 409 "You already own this bucket": another run made it just now
            return False
        return True

    def _blobs(self, prefix, **kwargs):
        return self.client.list_blobs(self.name, prefix=prefix, timeout=_TIMEOUT, **kwargs)

    def subdirs(self, prefix) -> list:
        blobs = self._blobs(prefix, delimiter="/")
        for _ in pages_checked(blobs.pages, prefix):  # the prefixes are collected while paging
            pass
        return [p[len(prefix) :].rstrip("/") for p in blobs.prefixes]

    def exists(self, key) -> bool:
        return self.bucket.blob(key).exists(timeout=_TIMEOUT)

    def prefix_exists(self, prefix) -> bool:
        return any(True for _ in self._blobs(prefix, max_results=1))

    def put(self, key, data, content_type=None, if_absent=False, if_version=None, strict=False):
        # GCS always takes the precondition (``strict`` changes nothing)
        from google.api_core.exceptions import NotFound, PreconditionFailed

        blob = self.bucket.blob(key)
        kwargs = {}
        if if_absent:
            kwargs["if_generation_match"] = 0
        elif if_version:
            kwargs["if_generation_match"] = int(if_version)
        try:
            blob.upload_from_string(
                data,
                content_type=content_type or "application/octet-stream",
                timeout=_TIMEOUT,
                **kwargs,
            )
        except PreconditionFailed:
            return None
        except NotFound:
            if kwargs:
                return None
            raise
        return _version(blob.generation) or ""

    def version(self, key) -> Optional[str]:
        blob = self.bucket.get_blob(key, timeout=_TIMEOUT)
        return None if blob is None else _version(blob.generation)

    def read(self, key, versioned=False) -> tuple:
        from google.api_core.exceptions import NotFound

        blob, kwargs = self.bucket.blob(key), {}
        if versioned:  # the generation first, and then the content of exactly that one
            blob = self.bucket.get_blob(key, timeout=_TIMEOUT)
            if blob is None:
                raise MissingObject(f"gs://{self.name}/{key} does not exist")
            kwargs["if_generation_match"] = blob.generation
        try:
            data = blob.download_as_bytes(timeout=_TIMEOUT, **kwargs)
        except NotFound:
            raise MissingObject(f"gs://{self.name}/{key} does not exist") from None
        return data, _version(blob.generation)

    def list(self, prefix):
        blobs = self._blobs(prefix)
        for page in pages_checked(blobs.pages, prefix):
            for blob in page:
                yield blob.name, _version(blob.generation)

    def delete(self, keys) -> None:
        from google.api_core.exceptions import NotFound

        for key in keys:
            try:
                self.bucket.delete_blob(key, timeout=_TIMEOUT)
            except NotFound:
                pass
