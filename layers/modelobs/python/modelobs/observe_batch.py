"""Cut records into NDJSON request bodies that fit Observe's HTTP ingest limits.

Observe's ``/v1/http`` endpoint takes up to 4 MB per observation, 10 MB of
compressed body and 50 MB decompressed per request (older docs said 1 MB per
observation and 10 MB uncompressed). We cap the *uncompressed* body at 8 MB by
default: gzip never grows data by more than a few bytes per 32 KB block, so
the compressed body is then below 10 MB whatever the records look like, and a
batch fits in Lambda memory several times over.

A record larger than ``max_record_bytes`` is not truncated (a cut JSON line is
no longer the record, and an evaluation with half its metrics is worse than
none): it becomes an :class:`Oversized` entry that the forwarder stores as a
failure with reason ``record_too_large``, for a person to look at.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024
#: Observe's documented per-observation limit.
OBSERVE_MAX_OBSERVATION_BYTES = 4 * MB
#: Observe's documented per-request limit on the compressed body.
OBSERVE_MAX_REQUEST_COMPRESSED_BYTES = 10 * MB

DEFAULT_MAX_RECORD_BYTES = OBSERVE_MAX_OBSERVATION_BYTES
DEFAULT_MAX_BATCH_BYTES = 8 * MB
#: Many tiny records in one request make a retry expensive; 5,000 keeps each request well under a second.
DEFAULT_MAX_BATCH_RECORDS = 5000


@dataclass(frozen=True)
class BatchLimits:
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    max_batch_records: int = DEFAULT_MAX_BATCH_RECORDS

    def __post_init__(self) -> None:
        if min(self.max_record_bytes, self.max_batch_bytes, self.max_batch_records) <= 0:
            raise ValueError("batch limits must be positive")
        if self.max_record_bytes > self.max_batch_bytes:
            raise ValueError("max_record_bytes cannot exceed max_batch_bytes: such a record could never be sent")


def encode_line(record: Any) -> bytes:
    """One compact JSON line with its newline; non-ASCII kept as UTF-8 (smaller than \\u escapes)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


@dataclass(frozen=True)
class Batch:
    """Records and their encoded lines, sent as one request.

    ``id`` is a hash of the body, so the same records always make the same
    batch id: a Lambda retry that fails the same batch again overwrites one
    failure object instead of storing a second copy.
    """

    records: tuple[Any, ...]
    lines: tuple[bytes, ...]

    @property
    def body(self) -> bytes:
        return b"".join(self.lines)

    @property
    def size(self) -> int:
        return sum(len(line) for line in self.lines)

    @property
    def id(self) -> str:
        return hashlib.sha256(self.body).hexdigest()[:32]

    def gzipped(self, level: int = 6) -> bytes:
        # mtime=0: the same batch compresses to the same bytes, which keeps retries comparable.
        return gzip.compress(self.body, compresslevel=level, mtime=0)

    def halves(self) -> tuple["Batch", "Batch"]:
        """Split for a 413: the service found the request too large after all."""
        mid = len(self.records) // 2
        return (
            Batch(self.records[:mid], self.lines[:mid]),
            Batch(self.records[mid:], self.lines[mid:]),
        )

    def __len__(self) -> int:
        return len(self.records)


@dataclass(frozen=True)
class Oversized:
    """A record that cannot be sent as one observation, kept whole with its size."""

    record: Any
    size: int


def make_batches(
    records: Iterable[Any], limits: BatchLimits = BatchLimits()
) -> tuple[list[Batch], list[Oversized]]:
    """Greedy, order-preserving packing of records into batches within ``limits``."""
    batches: list[Batch] = []
    oversized: list[Oversized] = []
    cur_records: list[Any] = []
    cur_lines: list[bytes] = []
    cur_size = 0
    for record in records:
        line = encode_line(record)
        if len(line) > limits.max_record_bytes:
            oversized.append(Oversized(record, len(line)))
            continue
        if cur_records and (
            cur_size + len(line) > limits.max_batch_bytes or len(cur_records) >= limits.max_batch_records
        ):
            batches.append(Batch(tuple(cur_records), tuple(cur_lines)))
            cur_records, cur_lines, cur_size = [], [], 0
        cur_records.append(record)
        cur_lines.append(line)
        cur_size += len(line)
    if cur_records:
        batches.append(Batch(tuple(cur_records), tuple(cur_lines)))
    return batches, oversized


def batch_of(records: Sequence[Any]) -> Batch:
    """One batch of exactly these records (replay re-sends a stored batch as it was)."""
    return Batch(tuple(records), tuple(encode_line(r) for r in records))
