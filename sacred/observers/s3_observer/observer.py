"""S3Observer: runs stored in an S3 bucket, in the layout of the FileStorageObserver.

Keys below ``basedir`` (see ``sacred.observers.object_store.layout``)::

    _sources/<stem>_<md5><ext>        _resources/<stem>_<md5><ext>
    <id>/run.json config.json cout.txt info.json metrics.json <artifacts>

boto3 is imported when an observer is built (``pip install "sacred[s3]"``). The endpoint
is AWS unless ``endpoint_url`` (or ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``) names
another S3-compatible server.

Beyond the original: ``cout.txt`` holds the whole output (the original kept only the last
chunk), run ids are claimed with a conditional write (concurrent runs get distinct ids),
and a store that goes away during a run never fails the run: what could not be uploaded
is kept in a journal for ``sacred sync`` (see ``sacred.observers.journal``). The part shared with the
GoogleCloudStorageObserver is ``sacred.observers.object_store``.
"""

from sacred.observers.object_store.observer import ObjectStoreObserver
from sacred.observers.s3_observer.bucket import (
    S3Bucket,
    default_region,
    endpoint_from_env,
    make_client,
)
from sacred.observers.s3_observer.naming import _S3_BAD_BUCKET
from sacred.observers.s3_observer.naming import is_valid_s3_bucket as _is_valid_bucket

__all__ = ("S3Observer", "DEFAULT_S3_PRIORITY")

DEFAULT_S3_PRIORITY = 20


class S3Observer(ObjectStoreObserver):
    """Stores runs in ``s3://<bucket>/<basedir>/<id>/`` (the FileStorageObserver layout).

    ``region`` defaults to the one of the AWS configuration. ``endpoint_url`` points to
    an S3-compatible server other than AWS. If uploads fail after the start, the run goes
    on and is kept in a journal in ``failure_dir`` (default ``./sacred_s3_fallback``), the
    same when the store cannot be reached at the start.
    """

    STORE_NAME = "S3"
    SCHEME = "s3"
    FALLBACK_PREFIX = "sacred_s3_fallback"

    def __init__(
        self,
        bucket,
        basedir,
        resource_dir=None,
        source_dir=None,
        priority=DEFAULT_S3_PRIORITY,
        region=None,
        endpoint_url=None,
        failure_dir=None,
    ):
        if not _is_valid_bucket(bucket):
            raise ValueError(_S3_BAD_BUCKET)
        try:
            import boto3  # noqa: F401 (only to say which extra is missing)
        except ImportError as e:
            raise ImportError('S3Observer needs boto3: pip install "sacred[s3]"') from e
        if region is None:
            region = default_region()
        if region is None:
            raise ValueError(
                "You must either pass in an AWS region name, or have a "
                "region name specified in your AWS config file"
            )
        self.region = region
        self._explicit_endpoint = endpoint_url is not None
        self.endpoint_url = endpoint_from_env(endpoint_url)
        self.s3 = make_client(region, self.endpoint_url)
        self.bucket = bucket
        self._bucket = S3Bucket(self.s3, bucket, region, self.endpoint_url)
        self._init_layout(bucket, basedir, resource_dir, source_dir, priority, failure_dir)

    def _journal_options(self) -> dict:
        options = {"region": self.region}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        return options

    @property
    def store_location(self):
        """What ``sacred.store.open_store`` takes to read this observer's runs: the
        ``s3://bucket/basedir`` location, or, with an ``endpoint_url`` given here, an
        ``S3Store`` on this observer's client (its endpoint and credentials)."""
        location = f"s3://{self.bucket_id}/{self.basedir.strip('/')}"
        if not self._explicit_endpoint:
            return location
        from sacred.observers.s3_observer.store import S3Store

        return S3Store(location, endpoint_url=self.endpoint_url, region=self.region, client=self.s3)
