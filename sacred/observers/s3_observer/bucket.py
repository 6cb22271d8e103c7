"""``S3Bucket``: the ``Bucket`` operations with boto3 (any S3-compatible server).

boto3 is imported by ``make_client`` only, when an observer or a store is built
(``pip install "sacred[s3]"``). The endpoint is AWS unless ``endpoint_url`` (or
``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``) names another server.
"""

import os
from typing import Optional

from sacred.observers.object_store.bucket import Bucket, MissingObject, pages_checked

_MISSING = ("404", "NoSuchKey", "NotFound")
_CONDITION_FAILED = ("PreconditionFailed", "412", "ConditionalRequestConflict")


def endpoint_from_env(endpoint_url=None) -> Optional[str]:
    """``endpoint_url``, else the one the AWS environment variables name, else None (AWS)."""
    return (
        endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )


def make_client(region, endpoint_url, user="S3Observer"):
    """A boto3 S3 client with few retries and short connect timeouts (a run never waits long
    for a lost server); ImportError naming the extra without boto3."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:
        raise ImportError(f'{user} needs boto3: pip install "sacred[s3]"') from e
    config = Config(
        retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60
    )
    return boto3.client("s3", region_name=region, endpoint_url=endpoint_url, config=config)


def default_region():
    """The region of the AWS configuration (None if it names none)."""
    import boto3

    return boto3.session.Session().region_name


def _code(error) -> Optional[str]:
    return getattr(error, "response", {}).get("Error", {}).get("Code")


def _version(etag) -> str:
    return (etag or "").strip('"')


class S3Bucket(Bucket):
    def __init__(self, client, name, region=None, endpoint_url=None):
        self.client = client
        self.name = name
        self.region = region
        self.endpoint_url = endpoint_url

    @property
    def address(self) -> str:
        if self.endpoint_url:
            return self.endpoint_url
        return (
            f"https://s3.{self.region}.amazonaws.com" if self.region else "https://s3.amazonaws.com"
        )

    def bucket_exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.name)
        except ClientError as e:
            if _code(e) in ("404", "NoSuchBucket"):
                return False
            raise
        return True

    def create_bucket(self) -> bool:
        from botocore.exceptions import ClientError

        kwargs = {}
        if self.region not in (None, "us-east-1"):  # AWS rejects this region as a constraint
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client.create_bucket(Bucket=self.name, **kwargs)
        except ClientError as e:
            # another run made it just now (us-east-1 answers 200 instead, other regions this)
            if _code(e) == "BucketAlreadyOwnedByYou":
                return False
            raise
        return True

    def _pages(self, prefix, **kwargs):
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix, **kwargs
        )
        return pages_checked(pages, prefix)

    def subdirs(self, prefix) -> list:
        names = []
        for page in self._pages(prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", ()):
                names.append(common["Prefix"][len(prefix) :].rstrip("/"))
        return names

    def exists(self, key) -> bool:
        return self.version(key) is not None

    def prefix_exists(self, prefix) -> bool:
        answer = self.client.list_objects_v2(Bucket=self.name, Prefix=prefix, MaxKeys=1)
        return answer.get("KeyCount", 0) > 0

    def put(self, key, data, content_type=None, if_absent=False, if_version=None, strict=False):
        from botocore.exceptions import ClientError

        kwargs = {"Bucket": self.name, "Key": key, "Body": data}
        if content_type:
            kwargs["ContentType"] = content_type
        condition = {}
        if if_absent:
            condition = {"IfNoneMatch": "*"}
        elif if_version:
            condition = {"IfMatch": f'"{if_version}"'}
        if condition:
            try:
                return _version(self.client.put_object(**condition, **kwargs).get("ETag"))
            except ClientError as e:
                code = _code(e)
                if code in _CONDITION_FAILED or (if_version and code in _MISSING):
                    return None
                if code != "NotImplemented" or strict:  # servers without conditional writes
                    raise
        return _version(self.client.put_object(**kwargs).get("ETag"))

    def version(self, key) -> Optional[str]:
        from botocore.exceptions import ClientError

        try:
            return _version(self.client.head_object(Bucket=self.name, Key=key).get("ETag"))
        except ClientError as e:
            if _code(e) in _MISSING:
                return None
            raise

    def read(self, key, versioned=False) -> tuple:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.name, Key=key)
        except ClientError as e:
            if _code(e) in _MISSING:
                raise MissingObject(f"s3://{self.name}/{key} does not exist") from None
            raise
        with answer["Body"] as body:
            return body.read(), _version(answer.get("ETag"))

    def open(self, key):
        """The object's content as a stream (big artifacts are not read into memory)."""
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.name, Key=key)["Body"]
        except ClientError as e:
            if _code(e) in _MISSING:
                raise MissingObject(f"s3://{self.name}/{key} does not exist") from None
            raise

    def list(self, prefix):
        for page in self._pages(prefix):
            for item in page.get("Contents", ()):
                yield item["Key"], _version(item.get("ETag"))

    def delete(self, keys) -> None:
        keys = list(keys)
        for start in range(0, len(keys), 1000):  # at most 1000 keys a request
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.name, Delete={"Objects": chunk, "Quiet": True})
