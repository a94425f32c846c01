"""The one S3 key scheme.

Every record lives under a prefix partitioned by ``dt=`` (the UTC day the
model made the prediction), so Athena or any engine that reads
partitioned JSON can aggregate them, and a late review still lands in the
prediction's day.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

CAPTURE_IMAGES = "captures/images/"
CAPTURE_PREDICTIONS = "captures/predictions/"
SAMPLING_DECISIONS = "sampling/decisions/"
SAMPLING_BUDGET = "sampling/budget/"
REVIEWS = "reviews/"
REVIEW_HISTORY = "reviews-history/"
WEBHOOK_DELIVERIES = "webhooks/labelbox/deliveries/"
EVALUATIONS = "evaluations/"

_ID = re.compile(r"^[0-9a-f]{32}$")
_PREDICTION_KEY = re.compile(r"^captures/predictions/dt=(\d{4}-\d{2}-\d{2})/([0-9a-f]{32})\.json$")

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
}


def day(ts: datetime) -> str:
    """The ``dt=`` partition value of a timestamp: its UTC date."""
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%d")


def new_capture_id(ts: datetime) -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: its first 48 bits are ``ts`` in Unix milliseconds.

    Ids sort by prediction time, and whoever holds only an id (a Labelbox
    webhook carries the global key, nothing else of ours) can find the
    prediction's day, hence every key of that capture, without a lookup.
    """
    ms = int(ts.timestamp() * 1000)
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | secrets.randbits(12) << 64 | 0b10 << 62 | secrets.randbits(62)
    return f"{value:032x}"


def capture_time(capture_id: str) -> datetime:
    """The prediction time a capture id carries (to the millisecond)."""
    return datetime.fromtimestamp(int(check_id(capture_id)[:12], 16) / 1000, tz=timezone.utc)


def capture_day(capture_id: str) -> str:
    return day(capture_time(capture_id))


def check_id(capture_id: str) -> str:
    if not _ID.match(capture_id):
        raise ValueError(f"not a capture id: {capture_id!r} (32 lowercase hex digits)")
    return capture_id


def capture_image_key(capture_id: str, ts: datetime, content_type: str) -> str:
    return f"{CAPTURE_IMAGES}dt={day(ts)}/{check_id(capture_id)}.{EXTENSIONS.get(content_type, 'bin')}"


def prediction_key(capture_id: str, ts: datetime) -> str:
    return f"{CAPTURE_PREDICTIONS}dt={day(ts)}/{check_id(capture_id)}.json"


def parse_prediction_key(key: str) -> tuple[str, str]:
    """``(day, id)`` of a prediction record's key; ``ValueError`` for any other key."""
    match = _PREDICTION_KEY.match(key)
    if not match:
        raise ValueError(f"not a prediction record key: {key!r}")
    return match.group(1), match.group(2)


def sampling_decision_key(capture_id: str, day_: str) -> str:
    return f"{SAMPLING_DECISIONS}dt={day_}/{check_id(capture_id)}.json"


def budget_key(day_: str) -> str:
    return f"{SAMPLING_BUDGET}dt={day_}.json"


def review_key(capture_id: str, day_: str) -> str:
    """The current review of a capture, in its *prediction's* day."""
    return f"{REVIEWS}dt={day_}/{check_id(capture_id)}.json"


def review_history_key(capture_id: str, day_: str, label_version: str) -> str:
    """A superseded review, kept when an update replaces it."""
    return f"{REVIEW_HISTORY}dt={day_}/{check_id(capture_id)}/{label_version}.json"


def delivery_marker_key(delivery_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", delivery_id)[:200]
    if not safe:
        raise ValueError("empty webhook delivery id")
    return f"{WEBHOOK_DELIVERIES}{safe}"


def evaluation_key(capture_id: str, day_: str) -> str:
    return f"{EVALUATIONS}dt={day_}/{check_id(capture_id)}.json"
