"""Windowed quality from evaluation lines: AP50 identical to pycocotools, sums not averages, no double counting."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from modelobs.coco_eval import evaluate_detections
from modelobs.evaluation import evaluation_record, metric_line
from modelobs.keys import capture_day, new_capture_id
from modelobs.windowed import ap_from_scored, windows


def random_image(rng: np.random.Generator):
    n_gt, n_det = int(rng.integers(0, 5)), int(rng.integers(0, 7))
    xy = rng.uniform(0, 200, (n_gt, 2))
    gt = np.hstack([xy, xy + rng.uniform(10, 60, (n_gt, 2))])
    picks = rng.integers(0, max(n_gt, 1), n_det)
    jitter = rng.normal(0, 8, (n_det, 4))
    base = gt[picks] if n_gt else rng.uniform(0, 200, (n_det, 4))
    det = base + jitter
    det[:, 2:] = np.maximum(det[:, 2:], det[:, :2] + 1)
    scores = np.round(rng.uniform(0.05, 1.0, n_det), 2)  # rounded: ties happen
    return gt, det, scores


def lines_for(images, threshold=0.5, version="1"):
    out = []
    for gt, det, scores in images:
        cid = new_capture_id(datetime(2026, 11, 20, tzinfo=timezone.utc))
        pred = {"id": cid, "ts": "2026-11-20T00:00:00Z", "model": {"name": "m", "version": version},
                "operating_threshold": threshold,
                "detections": [{"box": d.tolist(), "score": float(s), "label": "animal"} for d, s in zip(det, scores)]}
        rev = {"id": cid, "version": "v", "reviewed_at": "x", "prediction_day": capture_day(cid),
               "boxes": [{"box": g.tolist(), "label": "animal"} for g in gt]}
        out.append(metric_line(evaluation_record(pred, rev, "now")))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_window_ap50_equals_pycocotools_ap50(seed):
    rng = np.random.default_rng(seed)
    images = [random_image(rng) for _ in range(40)]
    expected = evaluate_detections(
        [(gt, ["animal"] * len(gt), det, scores, ["animal"] * len(det)) for gt, det, scores in images]
    )["AP50"]
    (summary,) = windows(lines_for(images)).values()
    if expected == -1:
        assert summary["AP50"] is None
    else:
        assert summary["AP50"] == pytest.approx(expected, abs=1e-12)


def test_counts_are_summed_and_duplicates_counted_once():
    rng = np.random.default_rng(1)
    lines = lines_for([random_image(rng) for _ in range(10)])
    once = windows(lines)
    twice = windows(lines + lines)  # a replayed review: same evaluation ids
    assert once == twice
    (s,) = once.values()
    assert s["reviewed"] == 10
    assert s["precision"] == pytest.approx(sum(l["TP"] for l in lines) / sum(l["TP"] + l["FP"] for l in lines))


def test_windows_are_per_day_and_version_with_traffic_counts():
    rng = np.random.default_rng(2)
    lines = lines_for([random_image(rng)], version="1") + lines_for([random_image(rng)], version="2")
    preds = [{"prediction_day": "2026-11-20", "model": {"version": "1"}}] * 3
    got = windows(lines, preds)
    assert set(got) == {("2026-11-20", "1"), ("2026-11-20", "2")}
    assert got[("2026-11-20", "1")]["images"] == 3 and got[("2026-11-20", "2")]["images"] == 0


def test_ap_edge_cases():
    assert ap_from_scored([], 0) is None
    assert ap_from_scored([], 3) == 0.0
    assert ap_from_scored([[0.9, 1], [0.8, 1]], 2) == pytest.approx(1.0)
