"""Sampling policy, the daily budget under concurrency, and the S3 conditional writes under them."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from modelobs.s3cond import create_once, read_json, update_json
from modelobs.sampling import SamplingPolicy, apply_budget, claim_budget, decide, draw_for, stratum_of

BUCKET = "sampling-test"


def record(scores: list[float], threshold: float = 0.5, capture_id: str | None = None) -> dict:
    return {
        "id": capture_id or uuid.uuid4().hex,
        "operating_threshold": threshold,
        "detections": [{"box": [0, 0, 1, 1], "score": s, "label": "animal"} for s in scores],
    }


@pytest.mark.parametrize(
    "scores,stratum",
    [([0.9, 0.55], "uncertain"), ([0.1], "empty"), ([], "empty"), ([0.95, 0.05], "base"), ([0.36], "uncertain")],
)
def test_strata(scores, stratum):
    assert stratum_of([{"score": s} for s in scores], 0.5, 0.15) == stratum


def test_draw_is_fixed_by_the_id_and_uniform():
    ids = [uuid.uuid4().hex for _ in range(4000)]
    draws = [draw_for(i) for i in ids]
    assert draws[:10] == [draw_for(i) for i in ids[:10]]
    assert 0.47 < sum(draws) / len(draws) < 0.53
    assert all(0 <= d < 1 for d in draws)


def test_rates_follow_the_policy_per_stratum():
    policy = SamplingPolicy(base_rate=0.1, uncertain_rate=0.8, empty_rate=0.3)
    n = 3000
    rate = {
        name: sum(decide(record(scores), policy).drawn for _ in range(n)) / n
        for name, scores in {"base": [0.95], "uncertain": [0.5], "empty": [0.01]}.items()
    }
    assert abs(rate["base"] - 0.1) < 0.03
    assert abs(rate["uncertain"] - 0.8) < 0.03
    assert abs(rate["empty"] - 0.3) < 0.03
    decision = decide(record([0.5]), policy)
    assert decision.probability == 0.8 and decision.stratum == "uncertain"


def test_bad_policy_is_refused():
    with pytest.raises(ValueError, match="base_rate"):
        SamplingPolicy(base_rate=1.5)


def test_budget_is_idempotent_per_id(s3):
    assert claim_budget(s3, BUCKET, "2026-11-28", "a" * 32, 2)
    assert claim_budget(s3, BUCKET, "2026-11-28", "a" * 32, 2)  # a retry keeps its slot
    assert claim_budget(s3, BUCKET, "2026-11-28", "b" * 32, 2)
    assert not claim_budget(s3, BUCKET, "2026-11-28", "c" * 32, 2)
    assert claim_budget(s3, BUCKET, "2026-11-29", "c" * 32, 2)  # a new day, a new budget
    doc, _ = read_json(s3, BUCKET, "sampling/budget/dt=2026-11-28.json")
    assert doc["ids"] == ["a" * 32, "b" * 32]


def test_budget_is_never_exceeded_under_concurrent_claims(s3):
    ids = [uuid.uuid4().hex for _ in range(40)]
    with ThreadPoolExecutor(16) as pool:
        granted = list(pool.map(lambda i: claim_budget(s3, BUCKET, "2026-11-28", i, 10), ids + ids[:10]))
    doc, _ = read_json(s3, BUCKET, "sampling/budget/dt=2026-11-28.json")
    assert len(doc["ids"]) == 10 == len(set(doc["ids"]))
    holders = set(doc["ids"])
    # Every id that was told "yes" holds a slot, and nobody else does.
    assert {i for i, ok in zip(ids + ids[:10], granted) if ok} == holders


def test_budget_exhaustion_is_recorded_as_the_reason():
    decision = decide(record([0.5]), SamplingPolicy(uncertain_rate=1.0))
    assert decision.sampled
    limited = apply_budget(decision, holds_slot=False)
    assert (limited.drawn, limited.sampled, limited.reason) == (True, False, "budget exhausted (uncertain)")


def test_create_once_says_who_created(s3):
    assert create_once(s3, BUCKET, "markers/x", b"{}")
    assert not create_once(s3, BUCKET, "markers/x", b"{}")


def test_update_json_retries_on_a_concurrent_write(s3):
    calls = []

    def change(doc):
        calls.append(doc)
        if len(calls) == 1:  # someone else writes between our read and our write
            s3.put_object(Bucket=BUCKET, Key="counter", Body=b'{"n": 5}')
        return {"n": (doc or {"n": 0})["n"] + 1}, "done"

    s3.put_object(Bucket=BUCKET, Key="counter", Body=b'{"n": 1}')
    assert update_json(s3, BUCKET, "counter", change) == "done"
    assert read_json(s3, BUCKET, "counter")[0] == {"n": 6}
    assert calls == [{"n": 1}, {"n": 5}]
