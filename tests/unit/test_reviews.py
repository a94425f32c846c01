"""Storing reviews: idempotent by content, updates keep history, bad input stores nothing."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from modelobs.keys import new_capture_id
from modelobs.reviews import Review, ReviewError, review_record, store_review

BUCKET = "reviews-test"
TS = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def review(cid: str, boxes, reviewed_at: str = "2026-11-25T10:00:00Z") -> Review:
    return Review(cid, reviewed_at, [{"box": b, "label": "animal"} for b in boxes], source_ids={"label_id": "L1"})


def test_review_lands_in_the_prediction_day_not_the_review_day(s3):
    cid = new_capture_id(TS)
    record = review_record(review(cid, [[1, 2, 30, 40]]))
    assert store_review(s3, BUCKET, record) == "created"
    assert keys(s3) == [f"reviews/dt=2026-11-20/{cid}.json"]
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key=keys(s3)[0])["Body"].read())
    assert stored["prediction_key"] == f"captures/predictions/dt=2026-11-20/{cid}.json"
    assert stored["boxes"] == [{"box": [1.0, 2.0, 30.0, 40.0], "label": "animal"}] and stored["schema"] == 1


def test_the_same_review_twice_writes_once(s3):
    cid = new_capture_id(TS)
    assert store_review(s3, BUCKET, review_record(review(cid, [[1, 2, 30, 40]]))) == "created"
    etag = s3.head_object(Bucket=BUCKET, Key=keys(s3)[0])["ETag"]
    assert store_review(s3, BUCKET, review_record(review(cid, [[1, 2, 30, 40]]))) == "unchanged"
    assert s3.head_object(Bucket=BUCKET, Key=keys(s3)[0])["ETag"] == etag


def test_an_update_replaces_and_keeps_the_prior_version(s3):
    cid = new_capture_id(TS)
    first = review_record(review(cid, [[1, 2, 30, 40]]))
    second = review_record(review(cid, [[5, 5, 50, 50]], reviewed_at="2026-11-26T09:00:00Z"))
    store_review(s3, BUCKET, first)
    assert store_review(s3, BUCKET, second) == "updated"
    assert keys(s3) == [f"reviews-history/dt=2026-11-20/{cid}/{first['version']}.json", f"reviews/dt=2026-11-20/{cid}.json"]
    current = json.loads(s3.get_object(Bucket=BUCKET, Key=f"reviews/dt=2026-11-20/{cid}.json")["Body"].read())
    assert current["version"] == second["version"] and current["previous_version"] == first["version"]


def test_a_global_key_that_is_not_ours_is_refused_before_writing(s3):
    with pytest.raises(ReviewError, match="not a modelobs capture id"):
        review_record(review("someone-elses-row", [[1, 2, 3, 4]]))
    assert keys(s3) == []


def test_an_empty_box_is_refused():
    with pytest.raises(ReviewError, match="empty box"):
        review_record(review(new_capture_id(TS), [[10, 10, 10, 20]]))
