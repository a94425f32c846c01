"""Keep human reviews in S3: one current review per capture, earlier versions kept.

Webhooks arrive more than once (Labelbox retries, the same delivery twice,
a label created then updated), so storing a review is idempotent by
content: the same review again writes nothing (and so triggers no second
evaluation); a changed one moves the current version to the history
prefix and replaces it by compare-and-swap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .keys import capture_day, capture_time, prediction_key, review_history_key, review_key
from .s3cond import update_json

SCHEMA = 1


class ReviewError(ValueError):
    """A review that cannot be stored as given (e.g. a global key that is not a capture id)."""


@dataclass(frozen=True)
class Review:
    id: str  # the capture id (the Labelbox global key)
    reviewed_at: str  # UTC ISO-8601
    boxes: Sequence[dict[str, Any]]  # [{"box": [x1, y1, x2, y2], "label": ...}]
    source: str = "labelbox"
    source_ids: dict[str, Any] = field(default_factory=dict)  # data_row_id, label_id, project_id, ...


def review_record(review: Review, delivery: dict[str, Any] | None = None) -> dict[str, Any]:
    """The review record (format in design.md), with a ``version`` that changes when the review does."""
    boxes = [{"box": [float(v) for v in b["box"]], "label": str(b["label"])} for b in review.boxes]
    for b in boxes:
        x1, y1, x2, y2 = b["box"]
        if not (x2 > x1 and y2 > y1):
            raise ReviewError(f"review of {review.id} has an empty box {b['box']}")
    try:
        day = capture_day(review.id)
    except ValueError as exc:
        raise ReviewError(f"{review.id!r} is not a modelobs capture id: {exc}") from None
    content = {"boxes": boxes, "reviewed_at": review.reviewed_at, "source_ids": review.source_ids}
    version = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "schema": SCHEMA,
        "id": review.id,
        "version": version,
        "reviewed_at": review.reviewed_at,
        "prediction_day": day,
        "prediction_key": prediction_key(review.id, capture_time(review.id)),
        "source": review.source,
        "source_ids": review.source_ids,
        "boxes": boxes,
        "delivery": delivery or {},
    }


def store_review(s3: Any, bucket: str, record: dict[str, Any]) -> str:
    """Write ``record`` as the capture's current review: ``"created"``, ``"updated"`` or ``"unchanged"``."""
    key = review_key(record["id"], record["prediction_day"])

    def change(current: dict | None) -> tuple[dict | None, str]:
        if current is None:
            return record, "created"
        if current.get("version") == record["version"]:
            return None, "unchanged"
        history = review_history_key(current["id"], current["prediction_day"], current["version"])
        s3.put_object(Bucket=bucket, Key=history, Body=json.dumps(current).encode(), ContentType="application/json")
        return {**record, "previous_version": current["version"]}, "updated"

    return update_json(s3, bucket, key, change)
