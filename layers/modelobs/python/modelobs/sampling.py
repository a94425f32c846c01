"""Choose which predictions humans review, and keep the daily budget.

Review is expensive, so the sample leans toward what teaches us most:
predictions near the operating threshold (the model was unsure) and
predictions with nothing above it (a miss looks like that), plus a base
rate of everything so the estimate of overall quality stays unbiased.
Every decision records its inclusion probability, so reports can
re-weight the sample (Horvitz-Thompson) back to the whole traffic.

Decisions are deterministic in the capture id: a retried event decides
the same way, and claiming a budget slot is idempotent per id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from .keys import budget_key
from .s3cond import update_json


@dataclass(frozen=True)
class SamplingPolicy:
    base_rate: float = 0.1  # share of ordinary predictions reviewed
    uncertain_rate: float = 0.6  # share of predictions with a score near the threshold
    empty_rate: float = 0.3  # share of predictions with nothing at or above the threshold
    uncertainty_band: float = 0.15  # "near the threshold": |score - threshold| <= band
    daily_budget: int = 25  # reviews per prediction day, at most

    def __post_init__(self) -> None:
        for name in ("base_rate", "uncertain_rate", "empty_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.uncertainty_band < 0 or self.daily_budget < 0:
            raise ValueError("uncertainty_band and daily_budget must not be negative")


@dataclass(frozen=True)
class Decision:
    id: str
    stratum: str  # "uncertain" | "empty" | "base"
    probability: float  # chance a prediction of this stratum is drawn (before the budget)
    draw: float  # the id's deterministic uniform draw in [0, 1)
    drawn: bool  # draw < probability
    sampled: bool  # drawn and within the day's budget
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def draw_for(capture_id: str) -> float:
    """A uniform number in [0, 1) fixed by the id, so retries and replays draw the same."""
    digest = hashlib.sha256(b"modelobs-sampling:" + capture_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def stratum_of(detections: Sequence[Mapping[str, Any]], threshold: float, band: float) -> str:
    scores = [float(d["score"]) for d in detections]
    if any(abs(s - threshold) <= band for s in scores):
        return "uncertain"
    if not any(s >= threshold for s in scores):
        return "empty"
    return "base"


def decide(record: Mapping[str, Any], policy: SamplingPolicy) -> Decision:
    """Whether a prediction record is drawn for review (the budget is applied by :func:`claim_budget`)."""
    stratum = stratum_of(record["detections"], float(record["operating_threshold"]), policy.uncertainty_band)
    probability = {"uncertain": policy.uncertain_rate, "empty": policy.empty_rate, "base": policy.base_rate}[stratum]
    draw = draw_for(record["id"])
    drawn = draw < probability
    reason = f"drawn ({stratum}, p={probability:g})" if drawn else f"not drawn ({stratum}, p={probability:g})"
    return Decision(record["id"], stratum, probability, draw, drawn, drawn, reason)


def claim_budget(s3: Any, bucket: str, day: str, capture_id: str, budget: int) -> bool:
    """Take one of the day's review slots for ``capture_id``; True if it holds one (again, on a retry).

    One JSON object per day lists the ids holding slots, updated by
    compare-and-swap, so concurrent samplers never hand out more than
    ``budget`` slots and a retried event does not take a second one.
    """

    def change(doc: dict | None) -> tuple[dict | None, bool]:
        ids: list[str] = list(doc["ids"]) if doc else []
        if capture_id in ids:
            return None, True
        if len(ids) >= budget:
            return None, False
        return {"schema": 1, "day": day, "budget": budget, "ids": ids + [capture_id]}, True

    return update_json(s3, bucket, budget_key(day), change)


def apply_budget(decision: Decision, holds_slot: bool) -> Decision:
    if not decision.drawn or holds_slot:
        return decision
    return Decision(decision.id, decision.stratum, decision.probability, decision.draw, True, False,
                    f"budget exhausted ({decision.stratum})")
