"""Build the JSON records that S3 keeps (the system of record).

Formats are those of ``shared/design.md``; every record carries
``"schema": 1`` so readers can tell versions apart when it changes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from .detector import Prediction
from .model_card import ModelCard

SCHEMA = 1


def utc_iso(ts: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a ``Z``: sortable as text."""
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prediction_record(
    capture_id: str,
    ts: datetime,
    card: ModelCard,
    prediction: Prediction,
    image_key: str,
    image_bytes: bytes,
    latency_ms: float,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "id": capture_id,
        "ts": utc_iso(ts),
        "received_at": utc_iso(received_at or ts),
        "model": card.model_ref,
        "image": {
            "key": image_key,
            "width": prediction.width,
            "height": prediction.height,
            "sha256": hashlib.sha256(image_bytes).hexdigest(),
            "content_type": prediction.content_type,
            "bytes": len(image_bytes),
        },
        "detections": [d.to_dict() for d in prediction.detections],
        "score_floor": card.score_floor,
        "operating_threshold": prediction.threshold,
        "latency_ms": round(latency_ms, 3),
        "timings_ms": {k: round(v, 3) for k, v in prediction.timings_ms.items()},
    }
