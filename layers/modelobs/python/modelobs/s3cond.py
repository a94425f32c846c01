"""Create-once markers and compare-and-swap on S3 objects.

DynamoDB is not available on the local cloud, and S3 conditional writes do
the two jobs we need on LocalStack and AWS alike: ``If-None-Match: *``
creates an object only if it does not exist (a delivery seen once), and
``If-Match: <etag>`` replaces it only if nobody changed it since it was
read (a counter). Both answer 412 when the condition fails.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")

_CONFLICT = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}


class MissingRecordError(LookupError):
    """A record the caller needs is not in S3 (yet); raising lets the event be retried."""


class ContentionError(RuntimeError):
    """A compare-and-swap kept losing to concurrent writers; raising lets Lambda retry the event later."""


def _is_conflict(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return error.get("Code") in _CONFLICT or status in {"412", "409"}


def _is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}


def create_once(s3: Any, bucket: str, key: str, body: bytes, content_type: str = "application/json") -> bool:
    """Write ``key`` only if it does not exist. True if this call created it, False if it was there."""
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")
        return True
    except ClientError as exc:
        if _is_conflict(exc):
            return False
        raise


def read_json(s3: Any, bucket: str, key: str) -> tuple[Any, str] | None:
    """``(document, etag)`` of a JSON object, or None if there is none."""
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise
    return json.loads(obj["Body"].read()), obj["ETag"]


def require_json(s3: Any, bucket: str, key: str) -> Any:
    """The JSON document at ``key``; :class:`MissingRecordError` if there is none."""
    found = read_json(s3, bucket, key)
    if found is None:
        raise MissingRecordError(f"s3://{bucket}/{key} does not exist")
    return found[0]


def update_json(
    s3: Any,
    bucket: str,
    key: str,
    change: Callable[[Any | None], tuple[Any | None, T]],
    *,
    attempts: int = 20,
    backoff_s: float = 0.02,
) -> T:
    """Read-modify-write a JSON object atomically; returns what ``change`` returned.

    ``change(current)`` gets the current document (None if absent) and
    returns ``(new document or None to leave it alone, result)``. On a
    concurrent write it is called again with the fresh document, so it must
    be a pure function of its input.
    """
    for attempt in range(attempts):
        found = read_json(s3, bucket, key)
        current, etag = found if found else (None, None)
        new, result = change(current)
        if new is None:
            return result
        body = json.dumps(new, separators=(",", ":")).encode()
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition)
            return result
        except ClientError as exc:
            if not _is_conflict(exc):
                raise
        time.sleep(random.uniform(0, backoff_s * (2 ** min(attempt, 6))))
    raise ContentionError(f"s3://{bucket}/{key}: still contended after {attempts} attempts")
