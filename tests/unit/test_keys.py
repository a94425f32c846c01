"""The one S3 key scheme and the capture ids it is built on."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from modelobs import keys


def test_capture_ids_are_uuid7_carrying_the_prediction_time():
    ts = datetime(2026, 11, 28, 23, 59, 59, 999000, tzinfo=timezone.utc)
    cid = keys.new_capture_id(ts)
    parsed = uuid.UUID(cid)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert keys.capture_time(cid) == ts
    assert keys.capture_day(cid) == "2026-11-28"


def test_capture_ids_sort_by_time_and_are_unique():
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ids = [keys.new_capture_id(t0 + timedelta(milliseconds=i)) for i in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200


def test_every_key_of_a_capture_is_in_its_prediction_day():
    ts = datetime(2026, 3, 1, 0, 0, 1, tzinfo=timezone.utc)
    cid = keys.new_capture_id(ts)
    day = keys.capture_day(cid)
    assert keys.prediction_key(cid, ts) == f"captures/predictions/dt=2026-03-01/{cid}.json"
    assert keys.capture_image_key(cid, ts, "image/png").endswith(f"dt=2026-03-01/{cid}.png")
    assert keys.review_key(cid, day) == f"reviews/dt=2026-03-01/{cid}.json"
    assert keys.parse_prediction_key(keys.prediction_key(cid, ts)) == ("2026-03-01", cid)


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "A" * 32, "0" * 31])
def test_ids_that_could_escape_a_prefix_are_refused(bad):
    with pytest.raises(ValueError):
        keys.review_key(bad, "2026-01-01")


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="timezone"):
        keys.day(datetime(2026, 1, 1))


def test_delivery_markers_are_safe_keys():
    assert keys.delivery_marker_key("abc/../x y") == "webhooks/labelbox/deliveries/abc_.._x_y"
