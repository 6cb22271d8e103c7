"""S3Observer: runs stored in an S3 bucket, in the layout of the FileStorageObserver.

Keys below ``basedir``::

    _sources/<stem>_<md5><ext>        _resources/<stem>_<md5><ext>
    <id>/run.json config.json cout.txt info.json metrics.json <artifacts>

boto3 is imported when an observer is built (``pip install "sacred[s3]"``). The endpoint
is AWS unless ``endpoint_url`` (or ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``) names
another S3-compatible server.

Beyond the original: ``cout.txt`` holds the whole output (the original kept only the last
chunk), run ids are claimed with a conditional write (concurrent runs get distinct ids),
and a store that goes away during a run never fails the run: what could not be uploaded
is kept in a local file, see ``replay_fallback``. The part shared with the
GoogleCloudStorageObserver is ``sacred.observers._object_store``.
"""

import os

from sacred.observers._object_store import _ObjectStoreObserver, replay_fallback
from sacred.observers.cli_options import is_valid_s3_bucket as _is_valid_bucket
from sacred.observers.cli_options import parse_s3_location as _parse_s3_location  # noqa: F401
from sacred.observers.cli_options import s3_join, s3_option  # noqa: F401

__all__ = (
    "S3Observer",
    "s3_option",
    "s3_join",
    "_is_valid_bucket",
    "replay_fallback",
    "DEFAULT_S3_PRIORITY",
)

DEFAULT_S3_PRIORITY = 20
_BAD_BUCKET = "Your chosen bucket name doesn't follow AWS bucket naming rules"


class S3Observer(_ObjectStoreObserver):
    """Stores runs in ``s3://<bucket>/<basedir>/<id>/`` (the FileStorageObserver layout).

    ``region`` defaults to the one of the AWS configuration. ``endpoint_url`` points to
    an S3-compatible server other than AWS. If uploads fail after the start, the run goes
    on and is kept in a JSON-lines file in ``failure_dir`` (default ``./sacred_s3_fallback``).
    """

    STORE_NAME = "S3"
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
            raise ValueError(_BAD_BUCKET)
        try:
            import boto3
            from botocore.config import Config
        except ImportError as e:
            raise ImportError('S3Observer needs boto3: pip install "sacred[s3]"') from e
        if region is None:
            region = boto3.session.Session().region_name
        if region is None:
            raise ValueError(
                "You must either pass in an AWS region name, or have a "
                "region name specified in your AWS config file"
            )
        self.region = region
        self.endpoint_url = (
            endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        # few retries and short connect timeouts: a run never waits long for a lost server
        config = Config(
            retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60
        )
        self.s3 = boto3.client(
            "s3", region_name=region, endpoint_url=self.endpoint_url, config=config
        )
        self.bucket = bucket
        self._init_layout(bucket, basedir, resource_dir, source_dir, priority, failure_dir)

    # ------------------------------------------------------------ store interface
    def _store_address(self):
        return self.endpoint_url or f"https://s3.{self.region}.amazonaws.com"

    def _store_bucket_exists(self):
        from botocore.exceptions import ClientError

        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
                return False
            raise
        return True

    def _store_create_bucket(self):
        if self.region == "us-east-1":  # AWS rejects this region as a location constraint
            self.s3.create_bucket(Bucket=self.bucket)
        else:
            self.s3.create_bucket(
                Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": self.region}
            )

    def _store_subdirs(self, prefix):
        names = []
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", ()):
                names.append(common["Prefix"][len(prefix) :].rstrip("/"))
        return names

    def _store_exists(self, key_or_prefix, prefix=False):
        from botocore.exceptions import ClientError

        if prefix:
            answer = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=key_or_prefix, MaxKeys=1)
            return answer.get("KeyCount", 0) > 0
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key_or_prefix)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _store_put(self, key, data, content_type, if_absent=False):
        from botocore.exceptions import ClientError

        kwargs = {"Bucket": self.bucket, "Key": key, "Body": data}
        if content_type:
            kwargs["ContentType"] = content_type
        if if_absent:
            try:
                self.s3.put_object(IfNoneMatch="*", **kwargs)
                return True
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code")
                if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    return False
                if code != "NotImplemented":  # servers without conditional writes
                    raise
        self.s3.put_object(**kwargs)
        return True
