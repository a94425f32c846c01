"""The sampler use case: a prediction record lands in S3 → maybe a Labelbox review request.

Every decision, sampled or not, is written to ``sampling/decisions/`` with
its stratum and inclusion probability, so reports can re-weight the sample.
A sampled capture goes to Labelbox with the model's confident boxes as
pre-labels. Labelbox errors propagate, so Lambda's async retries apply and
a final failure lands in the dead-letter queue; every step is idempotent
(deterministic draw, budget slot per id, data row per global key), so a
retry or a redrive never reviews a capture twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from .keys import parse_prediction_key, sampling_decision_key
from .records import utc_iso
from .s3cond import read_json, require_json
from .sampling import SamplingPolicy, apply_budget, claim_budget, decide

#: Labelbox batch priority by stratum: 1 is reviewed first.
PRIORITY = {"uncertain": 1, "empty": 2, "base": 5}


@dataclass
class SamplerService:
    s3: Any
    bucket: str
    policy: SamplingPolicy
    #: Returns ``(labelbox client, SetupIds)``; called only when a capture is sampled.
    labelbox: Callable[[], tuple[Any, Any]]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    def handle(self, prediction_key: str) -> dict[str, Any]:
        """Decide on one prediction record and act on it; returns the decision record as stored."""
        day, capture_id = parse_prediction_key(prediction_key)
        decision_key = sampling_decision_key(capture_id, day)
        previous = read_json(self.s3, self.bucket, decision_key)
        if previous and previous[0].get("status") in ("submitted", "not_sampled"):
            return previous[0]  # a retry or a redrive of a finished event

        prediction = require_json(self.s3, self.bucket, prediction_key)
        decision = decide(prediction, self.policy)
        if decision.drawn:
            holds = claim_budget(self.s3, self.bucket, day, capture_id, self.policy.daily_budget)
            decision = apply_budget(decision, holds)
        record = {
            "schema": 1,
            **decision.to_dict(),
            "prediction_key": prediction_key,
            "prediction_ts": prediction["ts"],
            "model": prediction["model"],
            "decided_at": utc_iso(self.clock()),
            "policy": asdict(self.policy),
            "status": "pending" if decision.sampled else "not_sampled",
        }
        self._put(decision_key, record)
        if not decision.sampled:
            return record

        client, ids = self.labelbox()
        image = prediction["image"]
        body = self.s3.get_object(Bucket=self.bucket, Key=image["key"])["Body"].read()
        threshold = float(prediction["operating_threshold"])
        confident = [d for d in prediction["detections"] if d["score"] >= threshold]
        from .labelbox_submit import submit_for_review  # the SDK loads only when a capture is sampled

        submission = submit_for_review(
            client, ids, capture_id, body,
            [d["box"] for d in confident], [d["label"] for d in confident],
            image["width"], image["height"],
            batch_name=f"modelobs-{day}",
            priority=PRIORITY[decision.stratum],
            content_type=image["content_type"],
        )
        record.update(status="submitted", submitted_at=utc_iso(self.clock()), labelbox=submission.to_dict())
        self._put(decision_key, record)
        return record

    def _put(self, key: str, record: dict[str, Any]) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(record).encode(), ContentType="application/json")
