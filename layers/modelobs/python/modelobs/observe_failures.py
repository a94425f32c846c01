"""Where batches that Observe did not take are kept until a replay delivers them.

A failure holds the records themselves (not a pointer to logs, which expire),
why they failed, the last HTTP status, how many attempts were made and the
Observe path they were meant for, so a replay needs nothing else.

:class:`FailureStore` is the interface; :class:`S3FailureStore` keeps each
failure as ``forwarder-failures/dt=YYYY-MM-DD/<batch id>.json.gz`` in the
project bucket (the system of record), :class:`MemoryFailureStore` is for
tests. The batch id is a hash of the batch's body, so storing the same failed
batch twice (a Lambda retry of the same event) writes one object.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

SCHEMA = 1
DEFAULT_PREFIX = "forwarder-failures/"


class FailureStoreError(Exception):
    """A stored failure cannot be read back (corrupt or foreign object); the key says which."""


@dataclass(frozen=True)
class FailedBatch:
    batch_id: str
    path: str
    records: list[Any]
    reason: str
    status: int | None
    attempts: int
    detail: str = ""
    failed_at: str = field(default_factory=lambda: _now_iso())
    #: Replays that were tried and failed again.
    replays: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self)}

    @classmethod
    def from_json(cls, doc: Any) -> "FailedBatch":
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("records"), list):
            raise ValueError("not a forwarder failure (schema 1 with records)")
        return cls(
            batch_id=str(doc["batch_id"]),
            path=str(doc["path"]),
            records=doc["records"],
            reason=str(doc["reason"]),
            status=doc.get("status"),
            attempts=int(doc.get("attempts", 0)),
            detail=str(doc.get("detail", "")),
            failed_at=str(doc.get("failed_at", "")),
            replays=int(doc.get("replays", 0)),
        )

    def day(self) -> str:
        return (self.failed_at or _now_iso())[:10]

    def evolve(self, **changes: Any) -> "FailedBatch":
        return replace(self, **changes)


class FailureStore(Protocol):
    """Keeps failed batches. ``put`` returns the key; ``put`` to an existing key overwrites it."""

    def put(self, failure: FailedBatch, key: str | None = None) -> str: ...

    def keys(self) -> Iterator[str]: ...

    def get(self, key: str) -> FailedBatch: ...

    def delete(self, key: str) -> None: ...


def failure_key(failure: FailedBatch, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}dt={failure.day()}/{failure.batch_id}.json.gz"


def encode_failure(failure: FailedBatch) -> bytes:
    body = json.dumps(failure.to_json(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return gzip.compress(body, mtime=0)


def decode_failure(key: str, blob: bytes) -> FailedBatch:
    try:
        return FailedBatch.from_json(json.loads(gzip.decompress(blob)))
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise FailureStoreError(f"{key}: {exc}") from None


class S3FailureStore:
    """Failures as gzipped JSON objects under ``prefix`` in ``bucket``.

    ``s3`` is a boto3 S3 client. The function needs ``s3:PutObject`` on the
    prefix; replay also needs ``s3:ListBucket``, ``s3:GetObject`` and
    ``s3:DeleteObject``.
    """

    def __init__(self, s3: Any, bucket: str, prefix: str = DEFAULT_PREFIX) -> None:
        if not bucket:
            raise ValueError("the failure store needs a bucket")
        self._s3 = s3
        self.bucket = bucket
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"

    def __repr__(self) -> str:
        return f"S3FailureStore(s3://{self.bucket}/{self.prefix})"

    def put(self, failure: FailedBatch, key: str | None = None) -> str:
        key = key or failure_key(failure, self.prefix)
        self._s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=encode_failure(failure),
            ContentType="application/gzip",
            Metadata={"reason": failure.reason, "records": str(len(failure.records))},
        )
        return key

    def keys(self) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith(".json.gz"):
                    yield obj["Key"]

    def get(self, key: str) -> FailedBatch:
        blob = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return decode_failure(key, blob)

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=key)


class MemoryFailureStore:
    """A dict of encoded failures: the same bytes S3 would hold, without S3."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self.objects: dict[str, bytes] = {}

    def put(self, failure: FailedBatch, key: str | None = None) -> str:
        key = key or failure_key(failure, self.prefix)
        self.objects[key] = encode_failure(failure)
        return key

    def keys(self) -> Iterator[str]:
        yield from sorted(self.objects)

    def get(self, key: str) -> FailedBatch:
        return decode_failure(key, self.objects[key])

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
