"""The ``POST /predict`` use case: detect, keep the image and the prediction in S3, answer.

Plain code over an S3 client, so tests run it against moto or LocalStack
and the Lambda handler only adapts the API Gateway event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .config import Settings
from .detector import Detector, Prediction
from .keys import capture_image_key, new_capture_id, prediction_key
from .records import prediction_record
from .upload import MalformedRequestError, image_bytes


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: How far back a client may file a capture (older traffic is a backfill job, not an API call).
MAX_CAPTURE_AGE = timedelta(days=30)
#: Clock skew allowed for capture times slightly in the future.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def parse_capture_time(value: str, now: datetime) -> datetime:
    """An ISO-8601 time with a zone, within the last 30 days; ``MalformedRequestError`` otherwise."""
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MalformedRequestError(f"X-Capture-Time {value!r} is not an ISO-8601 time (e.g. 2026-11-28T09:30:00Z)") from None
    if ts.tzinfo is None:
        raise MalformedRequestError(f"X-Capture-Time {value!r} has no time zone: add Z or an offset")
    if ts > now + MAX_CLOCK_SKEW or ts < now - MAX_CAPTURE_AGE:
        raise MalformedRequestError(f"X-Capture-Time {value!r} must be within the last 30 days and not in the future")
    return ts.astimezone(timezone.utc)


@dataclass(frozen=True)
class Capture:
    id: str
    ts: datetime
    image_key: str
    record_key: str
    record: dict[str, Any]
    prediction: Prediction


def save_capture(s3: Any, bucket: str, capture: Capture, image: bytes) -> None:
    """Write the image, then the record; never leave one without the other.

    The record's put is what triggers sampling downstream, so it goes last:
    whoever sees a record can read its image. If it fails, the image is
    removed again and the error propagates.
    """
    s3.put_object(Bucket=bucket, Key=capture.image_key, Body=image, ContentType=capture.record["image"]["content_type"])
    try:
        s3.put_object(
            Bucket=bucket,
            Key=capture.record_key,
            Body=json.dumps(capture.record, separators=(",", ":")).encode(),
            ContentType="application/json",
        )
    except Exception:
        s3.delete_object(Bucket=bucket, Key=capture.image_key)
        raise


@dataclass
class PredictService:
    detector: Detector
    s3: Any
    settings: Settings
    clock: Callable[[], datetime] = field(default=utcnow)

    def predict(self, body: bytes, content_type: str | None, capture_time: str | None = None) -> Capture:
        """Detect on the request's image and store it; bad input raises before anything is written.

        ``capture_time`` (the ``X-Capture-Time`` header) is for clients that upload
        what they captured earlier, and for replaying traffic: the capture is
        then filed, sampled and evaluated under that time's day.
        """
        if not self.settings.bucket:
            raise RuntimeError("MODELOBS_BUCKET is not set: the function cannot keep its captures")
        now = self.clock()
        ts = parse_capture_time(capture_time, now) if capture_time else now
        data = image_bytes(body, content_type)
        prediction = self.detector.predict(
            data, max_bytes=self.settings.max_image_bytes, max_pixels=self.settings.max_image_pixels
        )
        capture_id = new_capture_id(ts)
        image_key = capture_image_key(capture_id, ts, prediction.content_type)
        record = prediction_record(
            capture_id, ts, self.detector.card, prediction, image_key, data, prediction.timings_ms["total_ms"], now
        )
        capture = Capture(capture_id, ts, image_key, prediction_key(capture_id, ts), record, prediction)
        save_capture(self.s3, self.settings.bucket, capture, data)
        return capture


def response_body(capture: Capture) -> dict[str, Any]:
    """What the caller gets: the confident detections; the record in S3 keeps every candidate."""
    p = capture.prediction
    return {
        "id": capture.id,
        "model": capture.record["model"],
        "image": {"width": p.width, "height": p.height},
        "detections": [d.to_dict() for d in p.confident()],
        "threshold": p.threshold,
    }
