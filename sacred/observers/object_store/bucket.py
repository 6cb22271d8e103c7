"""``Bucket``: the few operations on a bucket that the object-store observer and store use.

Each backend implements them with its own library (``sacred.observers.s3_observer.bucket``
with boto3, ``sacred.observers.gcs_observer.bucket`` with google-cloud-storage); everything
else about S3 and Google Cloud Storage runs is shared. A *version* is what changes whenever an
object is written (an S3 ETag, a GCS generation), as a string; writes can be made
conditional on it, so that two writers of one object never lose each other's changes.
"""

import io
from typing import IO, Iterator, Optional

# Listings are paged by the server (1000 keys a page on S3 and GCS); this many pages is far
# beyond any store of runs, and stops a server that never ends its listing.
MAX_LIST_PAGES = 100_000


class MissingObject(FileNotFoundError):
    """There is no object with that key (an ``OSError``, like a missing file)."""


class ListingTooLong(RuntimeError):
    """A listing did not end within ``MAX_LIST_PAGES`` pages."""


def pages_checked(pages, prefix) -> Iterator:
    """The pages of a listing, at most ``MAX_LIST_PAGES`` of them."""
    for number, page in enumerate(pages):
        if number >= MAX_LIST_PAGES:
            raise ListingTooLong(
                f"the listing of {prefix!r} did not end after {MAX_LIST_PAGES} pages"
            )
        yield page


class Bucket:
    """One bucket, through a backend's client library (subclasses implement every method)."""

    name = ""

    @property
    def address(self) -> str:
        """Where the bucket's server is, for messages (an URL)."""
        raise NotImplementedError

    def bucket_exists(self) -> bool:
        raise NotImplementedError

    def create_bucket(self) -> bool:
        """Create the bucket; False if it exists already (another writer that started at
        the same moment created it first)."""
        raise NotImplementedError

    def subdirs(self, prefix: str) -> list:
        """Names of the 'directories' directly below ``prefix`` (which ends with ``/``)."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def prefix_exists(self, prefix: str) -> bool:
        """Whether any key starts with ``prefix``."""
        raise NotImplementedError

    def put(
        self,
        key: str,
        data: bytes,
        content_type: Optional[str] = None,
        if_absent: bool = False,
        if_version: Optional[str] = None,
        strict: bool = False,
    ) -> Optional[str]:
        """Write an object; returns its new version (``""`` if the server gave none), or None
        (writing nothing) if ``if_absent`` and the key exists, or if the object's version is
        no longer ``if_version``. Servers without conditional writes write anyway, unless
        ``strict`` (their error is raised then)."""
        raise NotImplementedError

    def version(self, key: str) -> Optional[str]:
        """The object's version, None if there is no such object."""
        raise NotImplementedError

    def read(self, key: str, versioned: bool = False) -> tuple:
        """``(content bytes, version or None)``; ``MissingObject`` if there is none. The
        version may be None unless ``versioned`` (which may cost a request more)."""
        raise NotImplementedError

    def open(self, key: str) -> IO[bytes]:
        """A binary file object with the content; ``MissingObject`` if there is none."""
        return io.BytesIO(self.read(key)[0])

    def list(self, prefix: str) -> Iterator[tuple]:
        """``(key, version)`` of every object whose key starts with ``prefix`` (paged, at most
        ``MAX_LIST_PAGES`` pages: ``ListingTooLong`` beyond)."""
        raise NotImplementedError

    def delete(self, keys) -> None:
        """Remove these objects (missing ones are no error)."""
        raise NotImplementedError
