"""The AWS rules for bucket names (``is_valid_s3_bucket``) and the message that cites them.

Apart from ``options`` because the observer checks names too, and ``options`` imports the
observer (lazily, when ``-S`` is applied): both import this module instead of each other.
"""

import re

__all__ = ("is_valid_s3_bucket", "_S3_BAD_BUCKET")

_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_S3_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?$")
_S3_BAD_BUCKET = "Your chosen bucket name doesn't follow AWS bucket naming rules"


def is_valid_s3_bucket(bucket_name: str) -> bool:
    """AWS rules: 3-63 chars; dot-separated labels of a-z, 0-9 and ``-`` (not at a label's
    start or end); not an IP address."""
    if not 3 <= len(bucket_name) <= 63:
        return False
    if not all(_S3_LABEL.match(label) for label in bucket_name.split(".")):
        return False
    return not _IPV4.match(bucket_name)
