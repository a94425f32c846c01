"""The evaluation record and its EMF metric line, computed by hand on small cases."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from modelobs.evaluation import evaluation_record, metric_line
from modelobs.keys import capture_day, new_capture_id

TS = datetime(2026, 11, 20, 8, 30, tzinfo=timezone.utc)


def prediction(cid: str, dets: list[tuple[list[float], float]], threshold: float = 0.5) -> dict:
    return {
        "id": cid, "ts": "2026-11-20T08:30:00.000Z", "model": {"name": "animal-detector", "version": "1.2.0"},
        "operating_threshold": threshold,
        "detections": [{"box": b, "score": s, "label": "animal"} for b, s in dets],
    }


def review(cid: str, boxes: list[list[float]], version: str = "v1") -> dict:
    return {"id": cid, "version": version, "reviewed_at": "2026-11-27T10:00:00Z",
            "prediction_day": capture_day(cid), "boxes": [{"box": b, "label": "animal"} for b in boxes]}


def test_counts_at_the_threshold_and_over_all_candidates():
    cid = new_capture_id(TS)
    p = prediction(cid, [([0, 0, 10, 10], 0.9), ([50, 50, 60, 60], 0.7), ([100, 100, 110, 110], 0.2)])
    r = review(cid, [[0, 0, 10, 12], [100, 100, 110, 110], [200, 200, 220, 220]])
    rec = evaluation_record(p, r, "2026-11-27T10:00:01Z")
    at, every = rec["at_threshold"], rec["all_candidates"]
    assert (at["tp"], at["fp"], at["fn"]) == (1, 1, 2)
    assert (every["tp"], every["fp"], every["fn"]) == (2, 1, 1)
    assert at["precision"] == pytest.approx(0.5) and at["recall"] == pytest.approx(1 / 3)
    assert at["mean_iou"] == pytest.approx(100 / 120)
    assert rec["matched_ious"] == [pytest.approx(100 / 120)]
    assert rec["prediction_day"] == "2026-11-20" and rec["counts"] == {"reviewed_boxes": 3, "candidates": 3, "detections": 2}


def test_metric_line_is_valid_emf_and_leaves_out_undefined_ratios():
    cid = new_capture_id(TS)
    rec = evaluation_record(prediction(cid, []), review(cid, []), "2026-11-27T10:00:01Z")
    line = metric_line(rec, now_ms=1_800_000_000_000)
    json.dumps(line)  # serialisable
    declared = [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert declared == ["TP", "FP", "FN"]  # precision/recall/F1/IoU undefined with nothing on either side
    for name in declared:
        assert isinstance(line[name], float)
    assert line["ModelName"] == "animal-detector" and line["ModelVersion"] == "1.2.0"
    assert line["prediction_day"] == "2026-11-20" and line["_aws"]["Timestamp"] == 1_800_000_000_000


def test_the_same_review_gives_the_same_evaluation_id_and_an_update_a_new_one():
    cid = new_capture_id(TS)
    p = prediction(cid, [([0, 0, 10, 10], 0.9)])
    a = evaluation_record(p, review(cid, [[0, 0, 10, 10]]), "t1")
    b = evaluation_record(p, review(cid, [[0, 0, 10, 10]]), "t2")
    c = evaluation_record(p, review(cid, [[0, 0, 10, 10]], version="v2"), "t3")
    assert a["evaluation_id"] == b["evaluation_id"] != c["evaluation_id"]


def test_mismatched_capture_ids_are_refused():
    with pytest.raises(ValueError, match="different captures"):
        evaluation_record(prediction(new_capture_id(TS), []), review(new_capture_id(TS), []), "t")
