"""Batching records into NDJSON request bodies within Observe's limits."""

from __future__ import annotations

import gzip
import json

import pytest
from modelobs.observe_batch import BatchLimits, batch_of, encode_line, make_batches


def rec(i: int, size: int = 10) -> dict:
    return {"id": str(i), "message": "x" * size}


def test_one_batch_when_everything_fits():
    records = [rec(i) for i in range(10)]
    batches, oversized = make_batches(records)
    assert oversized == [] and len(batches) == 1
    lines = batches[0].body.decode().splitlines()
    assert [json.loads(line) for line in lines] == records
    assert gzip.decompress(batches[0].gzipped()) == batches[0].body


def test_splits_at_the_byte_limit_and_keeps_order():
    line = len(encode_line(rec(0, 100)))
    limits = BatchLimits(max_record_bytes=line, max_batch_bytes=3 * line, max_batch_records=1000)
    records = [rec(i, 100) for i in range(10)]
    batches, oversized = make_batches(records, limits)
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert all(b.size <= limits.max_batch_bytes for b in batches)
    assert [r for b in batches for r in b.records] == records
    assert not oversized


def test_splits_at_the_record_count_limit():
    batches, _ = make_batches([rec(i) for i in range(7)], BatchLimits(max_batch_records=3))
    assert [len(b) for b in batches] == [3, 3, 1]


def test_a_record_exactly_at_the_limit_is_sent_one_over_is_kept_aside():
    at = rec(1, 50)
    limit = len(encode_line(at))
    over = rec(2, 51)
    batches, oversized = make_batches([rec(0), at, over, rec(3)], BatchLimits(max_record_bytes=limit, max_batch_bytes=10 * limit))
    assert [r["id"] for b in batches for r in b.records] == ["0", "1", "3"]
    assert [o.record for o in oversized] == [over]
    assert oversized[0].size == limit + 1


def test_defaults_respect_observes_documented_limits():
    limits = BatchLimits()
    assert limits.max_record_bytes <= 4 * 1024 * 1024
    # Uncompressed cap below 10 MB, so the gzip body (never much larger) is below 10 MB too.
    assert limits.max_batch_bytes < 10 * 1024 * 1024


def test_incompressible_full_batch_still_compresses_under_the_request_limit():
    import os

    blob = os.urandom(3 * 1024 * 1024).hex()  # 6 MB of hex: gzip shrinks it only ~2x
    batches, _ = make_batches([{"id": "1", "message": blob[: 3_000_000]}, {"id": "2", "message": blob[3_000_000:6_000_000]}])
    assert all(len(b.gzipped()) < 10 * 1024 * 1024 for b in batches)


def test_batch_id_depends_only_on_content():
    a = batch_of([rec(1), rec(2)])
    assert a.id == batch_of([rec(1), rec(2)]).id
    assert a.id != batch_of([rec(2), rec(1)]).id
    assert a.gzipped() == batch_of([rec(1), rec(2)]).gzipped()  # mtime=0: same bytes each time


def test_halves_cover_the_batch():
    b = batch_of([rec(i) for i in range(5)])
    left, right = b.halves()
    assert list(left.records) + list(right.records) == list(b.records)
    assert left.body + right.body == b.body


def test_non_ascii_stays_utf8():
    assert encode_line({"m": "é"}) == '{"m":"é"}\n'.encode()


@pytest.mark.parametrize(
    "kwargs", [dict(max_record_bytes=0), dict(max_batch_records=0), dict(max_record_bytes=10, max_batch_bytes=5)]
)
def test_bad_limits_are_refused(kwargs):
    with pytest.raises(ValueError):
        BatchLimits(**kwargs)
