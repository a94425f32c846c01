"""Forwarding with a failure store in S3 (moto) and replay after Observe comes back."""

from __future__ import annotations

import gzip
import json
import logging
import re
from datetime import datetime, timezone

import pytest
from modelobs import cwlogs
from modelobs.observe import ObserveClient, ObserveConfig, RetryPolicy
from modelobs.observe_batch import BatchLimits, encode_line
from modelobs.observe_failures import FailedBatch, MemoryFailureStore, S3FailureStore
from modelobs.observe_forward import RECORD_TOO_LARGE, forward, replay, replay_s3
from modelobs.observe_secret import Secret

from tests.unit.conftest import OBSERVE_TOKEN as TOKEN
from tests.unit.conftest import collector_admin as admin

BUCKET = "modelobs-test"
PATH = "modelobs/evaluations"


def evaluation_records(n: int) -> list[dict]:
    """Records as the forwarder builds them from the evaluate function's log group."""
    lines = [{"id": f"{i:056d}", "timestamp": 1767600000000 + i, "message": json.dumps({"evaluation_id": f"e{i}"})} for i in range(n)]
    return cwlogs.records_from_event(cwlogs.encode_event(lines, log_group="/aws/lambda/evaluate", log_stream="s"))


def client_for(server, token: str = TOKEN, limits: BatchLimits = BatchLimits(), **retry) -> ObserveClient:
    policy = dict(max_attempts=3, base_delay=0.001, max_delay=0.002, max_elapsed=5.0)
    policy.update(retry)
    config = ObserveConfig(endpoint=server.url, token=Secret(token), path=PATH, retry=RetryPolicy(**policy), limits=limits)
    return ObserveClient(config)


def stored_keys(s3) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def stored_doc(s3, key: str) -> dict:
    return json.loads(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


def test_forward_delivers_and_stores_nothing_when_observe_is_up(collector, s3):
    report = forward(evaluation_records(30), client_for(collector), S3FailureStore(s3, BUCKET))
    assert report.ok and report.delivered_records == 30 and report.failed_batches == 0
    assert stored_keys(s3) == []
    assert admin(collector, f"count?path={PATH}")["distinct_ids"] == 30


def test_outage_longer_than_retries_is_stored_then_replayed_exactly_once(collector, s3):
    recs = evaluation_records(25)
    store = S3FailureStore(s3, BUCKET)
    admin(collector, "fault", {"mode": "down", "status": 503})

    report = forward(recs, client_for(collector), store)
    assert not report.ok
    assert (report.failed_records, report.failed_batches, report.reasons) == (25, 1, {"retries_exhausted": 1})
    [key] = stored_keys(s3)
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert re.fullmatch(rf"forwarder-failures/dt={today}/[0-9a-f]{{32}}\.json\.gz", key)
    assert report.failure_keys == [key]
    doc = stored_doc(s3, key)
    assert doc["records"] == recs
    assert (doc["reason"], doc["status"], doc["attempts"], doc["path"]) == ("retries_exhausted", 503, 3, PATH)
    assert admin(collector, "count")["count"] == 0

    admin(collector, "fault", {"mode": "ok"})
    result = replay_s3(s3, BUCKET, client_for(collector))
    assert result.ok and (result.failures, result.delivered, result.delivered_records) == (1, 1, 25)
    assert stored_keys(s3) == []
    assert admin(collector, f"count?path={PATH}") == {
        "path": "/modelobs/evaluations", "count": 25, "distinct_ids": 25, "duplicates": 0,
    }
    got = [o["fields"] for o in admin(collector, f"observations?path={PATH}")["observations"]]
    assert got == recs

    again = replay_s3(s3, BUCKET, client_for(collector))
    assert again.failures == 0 and admin(collector, "count")["count"] == 25


def test_replay_while_observe_is_still_down_keeps_the_failure(collector, s3):
    store = S3FailureStore(s3, BUCKET)
    admin(collector, "fault", {"mode": "down", "status": 503})
    forward(evaluation_records(3), client_for(collector), store)
    [key] = stored_keys(s3)
    result = replay(store, client_for(collector))
    assert not result.ok and result.kept == [key]
    doc = stored_doc(s3, key)
    assert (doc["replays"], doc["attempts"], len(doc["records"])) == (1, 6, 3)


def test_wrong_token_is_kept_with_the_reason_and_never_written_anywhere(collector, s3, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "zzzzzzzzzzzzzzzzzzzz:WRONGwrongWRONGwrongWRONGwrong12"
    recs = evaluation_records(4)
    report = forward(recs, client_for(collector, token=wrong), S3FailureStore(s3, BUCKET))
    assert report.reasons == {"unauthorized": 1}
    [key] = stored_keys(s3)
    doc = stored_doc(s3, key)
    assert (doc["reason"], doc["status"], doc["attempts"], doc["records"]) == ("unauthorized", 401, 1, recs)
    assert [r["status"] for r in admin(collector, "requests")["requests"]] == [401]  # not retried blindly
    raw = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    for text in (caplog.text, gzip.decompress(raw).decode(), json.dumps(report.to_dict())):
        assert wrong not in text and "WRONGwrong" not in text

    # The token is fixed (rotated secret re-read): the replay delivers what was kept.
    assert replay_s3(s3, BUCKET, client_for(collector)).delivered == 1
    assert admin(collector, f"count?path={PATH}")["distinct_ids"] == 4
    assert stored_keys(s3) == []


def test_the_same_failed_batch_twice_is_one_object(collector, s3):
    """A Lambda retry of the same event fails the same batch again: one failure, not two."""
    store = S3FailureStore(s3, BUCKET)
    admin(collector, "fault", {"mode": "down", "status": 500})
    recs = evaluation_records(5)
    forward(recs, client_for(collector, max_attempts=1), store)
    forward(recs, client_for(collector, max_attempts=1), store)
    assert len(stored_keys(s3)) == 1


def test_a_partly_successful_replay_keeps_only_what_failed(collector):
    store = MemoryFailureStore()
    recs = evaluation_records(6)
    key = store.put(FailedBatch(batch_id="b1", path=PATH, records=recs, reason="retries_exhausted", status=503, attempts=3))
    line = len(encode_line(recs[0]))
    small = BatchLimits(max_record_bytes=line, max_batch_bytes=line * 3)  # replay sends it as two batches
    admin(collector, "fault", {"mode": "down", "status": 503, "count": 1})
    result = replay(store, client_for(collector, limits=small, max_attempts=1))
    assert result.still_failing == 1 and result.delivered_records == 3
    kept = store.get(key)
    assert kept.records == recs[:3] and kept.replays == 1  # the delivered half is not sent again
    assert replay(store, client_for(collector)).delivered == 1
    assert admin(collector, "count") == {"path": None, "count": 6, "distinct_ids": 6, "duplicates": 0}


def test_oversized_record_is_stored_for_review_not_truncated_or_dropped(collector):
    store = MemoryFailureStore()
    big = {"id": "big", "message": "x" * 2000}
    limits = BatchLimits(max_record_bytes=1000, max_batch_bytes=10_000)
    report = forward([big, *evaluation_records(2)], client_for(collector, limits=limits), store)
    assert (report.delivered_records, report.failed_records, report.reasons) == (2, 1, {RECORD_TOO_LARGE: 1})
    [key] = list(store.keys())
    assert store.get(key).records == [big]
    assert "the limit is 1000" in store.get(key).detail
    assert replay(store, client_for(collector, limits=limits)).still_failing == 1  # still too large: kept
    assert replay(store, client_for(collector)).delivered == 1  # limits raised: delivered


def test_batches_not_tried_before_the_deadline_are_stored_without_an_attempt(collector):
    store = MemoryFailureStore()
    report = forward(evaluation_records(3), client_for(collector), store, deadline=0.0)
    assert report.reasons == {"deadline": 1} and report.attempts == 0
    assert admin(collector, "count")["count"] == 0
    assert replay(store, client_for(collector)).delivered == 1


def test_a_failure_store_that_fails_raises_so_lambda_retries_the_event(collector, s3):
    admin(collector, "fault", {"mode": "down", "status": 503})
    with pytest.raises(Exception, match="NoSuchBucket"):
        forward(evaluation_records(1), client_for(collector, max_attempts=1), S3FailureStore(s3, "no-such-bucket"))


def test_unreadable_failure_objects_are_reported_not_deleted(collector, s3):
    s3.put_object(Bucket=BUCKET, Key="forwarder-failures/dt=2026-01-01/junk.json.gz", Body=b"not gzip")
    result = replay_s3(s3, BUCKET, client_for(collector))
    assert result.unreadable == ["forwarder-failures/dt=2026-01-01/junk.json.gz"] and not result.ok
    assert len(stored_keys(s3)) == 1


def test_report_dict_is_one_log_line():
    store = MemoryFailureStore()
    config = ObserveConfig(endpoint="http://127.0.0.1:9", token=Secret(TOKEN), retry=RetryPolicy(max_attempts=1))
    report = forward([], ObserveClient(config), store)
    assert report.ok and json.loads(json.dumps(report.to_dict()))["records"] == 0
