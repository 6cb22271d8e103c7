"""The Google Cloud Storage rules for bucket names (``gcs_bucket_problem``) and the message
that cites them.

Apart from ``options`` because the observer checks names too, and ``options`` imports the
observer (lazily, when ``-G`` is applied): both import this module instead of each other.
"""

import re

__all__ = ("gcs_bucket_problem", "_GCS_BAD_BUCKET")

_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_GCS_BAD_BUCKET = "Your chosen bucket name doesn't follow Google Cloud Storage bucket naming rules"
_GCS_NAME = re.compile(r"[a-z0-9][a-z0-9._\-]*[a-z0-9]$")


def gcs_bucket_problem(name):
    """Why ``name`` is not a valid Google Cloud Storage bucket name, or None."""
    if name.startswith("gs://"):
        return "Bucket names must not start with gs://"
    if not 3 <= len(name) <= 63:
        return "Bucket names must contain 3-63 characters"
    if name.lower() != name:
        return "Bucket names must not contain uppercase letters"
    if ".." in name:
        return "Bucket names must not contain '..'"
    if "goog" in name or "g00g" in name:
        return "Bucket names must not contain 'goog' or 'g00g'"
    if not _GCS_NAME.match(name):
        return (
            "Bucket names must start and end with a letter or digit and contain only "
            "a-z, 0-9, '-', '_' and '.'"
        )
    if _IPV4.match(name):
        return "Bucket names must not be IP addresses"
    return None
