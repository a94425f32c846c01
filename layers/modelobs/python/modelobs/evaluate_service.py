"""The evaluate use case: a stored review in, an evaluation record and one metric line out.

S3 is the system of record: the evaluation is written before its metric
line is printed, so a line in the logs always has its record, and a replay
of the review rewrites the same record and prints a line with the same
``evaluation_id``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from .evaluation import evaluation_record, metric_line
from .keys import capture_day, evaluation_key, sampling_decision_key
from .records import utc_iso
from .s3cond import read_json, require_json


def evaluate_review(s3: Any, bucket: str, review_key: str, now: datetime | None = None) -> tuple[dict, dict]:
    """Evaluate the review at ``review_key``; returns ``(evaluation record, metric line)`` after storing the record."""
    review = require_json(s3, bucket, review_key)
    prediction = require_json(s3, bucket, review["prediction_key"])
    decision = read_json(s3, bucket, sampling_decision_key(review["id"], capture_day(review["id"])))
    sampling = {k: decision[0].get(k) for k in ("stratum", "probability")} if decision else {}
    record = evaluation_record(prediction, review, utc_iso(now or datetime.now(timezone.utc)), sampling)
    s3.put_object(
        Bucket=bucket,
        Key=evaluation_key(record["id"], record["prediction_day"]),
        Body=json.dumps(record, separators=(",", ":")).encode(),
        ContentType="application/json",
    )
    return record, metric_line(record)
