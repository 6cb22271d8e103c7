"""``S3Store``: the runs an S3Observer wrote, for ``open_store("s3://bucket/prefix")``.

Everything but the bucket is ``sacred.observers.object_store.store.ObjectStore``. The client
is boto3's, with the endpoint of ``endpoint_url`` or ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` (else AWS) and the credentials and region of the AWS configuration.
"""

import boto3  # noqa: F401 (imported here so that open_store names the extra when it is missing)

from sacred.observers.object_store.store import ObjectStore, split_location
from sacred.observers.s3_observer.bucket import (
    S3Bucket,
    default_region,
    endpoint_from_env,
    make_client,
)
from sacred.observers.s3_observer.naming import _S3_BAD_BUCKET, is_valid_s3_bucket
from sacred.store.base import StoreError

__all__ = ("S3Store",)


class S3Store(ObjectStore):
    """Runs in ``s3://<bucket>/<prefix>/<id>/`` (``prefix=`` may give the prefix instead).

    ``endpoint_url`` and ``region`` are as for the S3Observer; ``client`` is a boto3 S3
    client to use instead of a new one.
    """

    scheme = "s3"
    KIND = "S3"

    def __init__(self, location, prefix=None, endpoint_url=None, region=None, client=None):
        bucket, basedir = split_location(location, "s3", prefix)
        if not is_valid_s3_bucket(bucket):
            raise StoreError(f"Invalid S3 location {str(location)!r}: {_S3_BAD_BUCKET}")
        endpoint = endpoint_from_env(endpoint_url)
        if client is None:
            region = region or default_region()
            client = make_client(region, endpoint, user="S3Store")
        super().__init__(S3Bucket(client, bucket, region, endpoint), basedir)
