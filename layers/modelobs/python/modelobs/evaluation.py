"""Compare a prediction with its human review: the evaluation record and its metric line.

Metrics are bucketed by *prediction* time: labels arrive hours or days
late, and a model's quality on Monday must stay Monday's whenever it was
reviewed. EMF timestamps cannot be backdated beyond 14 days, so the metric
line carries ``prediction_ts``/``prediction_day`` as fields, and Observe and
the reports bucket by those. ``evaluation_id`` is the same for the same
(prediction, review version), so a re-delivered review produces a line
that Observe can deduplicate instead of counting twice.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

from .matching import image_stats

SCHEMA = 1
IOU_THRESHOLD = 0.5
METRIC_NAMESPACE = "modelobs/quality"


def evaluation_id(prediction: dict[str, Any], review: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prediction['id']}:{review['version']}".encode()).hexdigest()[:32]


def evaluation_record(
    prediction: dict[str, Any], review: dict[str, Any], evaluated_at: str, sampling: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Match the prediction's candidates against the review's boxes (COCO greedy matching, IoU 0.5)."""
    if prediction["id"] != review["id"]:
        raise ValueError(f"prediction {prediction['id']} and review {review['id']} are of different captures")
    dets = prediction["detections"]
    gts = review["boxes"]
    threshold = float(prediction["operating_threshold"])
    stats = image_stats(
        np.array([g["box"] for g in gts], dtype=float).reshape(-1, 4),
        [g["label"] for g in gts],
        np.array([d["box"] for d in dets], dtype=float).reshape(-1, 4),
        np.array([d["score"] for d in dets], dtype=float),
        [d["label"] for d in dets],
        score_threshold=threshold,
        iou_threshold=IOU_THRESHOLD,
    ).to_dict()
    at = stats["at_threshold"]
    matched = {m["det"] for m in stats["matches"]}
    # Every candidate's (score, matched at IoU 0.5), top 100 by score as COCO's maxDets:
    # pooled over images with the reviewed-box count, they give AP50 for any window.
    order = sorted(range(len(dets)), key=lambda i: -float(dets[i]["score"]))[:100]
    scored = [[float(dets[i]["score"]), int(i in matched)] for i in order]
    return {
        "schema": SCHEMA,
        "id": prediction["id"],
        "evaluation_id": evaluation_id(prediction, review),
        "prediction_ts": prediction["ts"],
        "prediction_day": review["prediction_day"],
        "reviewed_at": review["reviewed_at"],
        "evaluated_at": evaluated_at,
        "model": prediction["model"],
        "review_version": review["version"],
        "iou_threshold": IOU_THRESHOLD,
        "operating_threshold": threshold,
        "counts": {"reviewed_boxes": len(gts), "candidates": len(dets), "detections": at["n_det"]},
        "matched_ious": [round(m["iou"], 6) for m in stats["matches"] if m["score"] >= threshold],
        "scored_candidates": scored,
        "all_candidates": stats["all"],
        "at_threshold": at,
        "per_class": stats["per_class"],
        "sampling": sampling or {},
    }


def metric_line(record: dict[str, Any], now_ms: int | None = None) -> dict[str, Any]:
    """One structured log record carrying EMF metrics for the evaluation (null ratios are left out)."""
    at = record["at_threshold"]
    values = {
        "MeanIoU": at["mean_iou"],
        "Precision": at["precision"],
        "Recall": at["recall"],
        "F1": at["f1"],
        "TP": at["tp"],
        "FP": at["fp"],
        "FN": at["fn"],
    }
    present = {k: float(v) for k, v in values.items() if v is not None}
    units = {"TP": "Count", "FP": "Count", "FN": "Count"}
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if now_ms is None else now_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": METRIC_NAMESPACE,
                    "Dimensions": [["ModelName", "ModelVersion"]],
                    "Metrics": [{"Name": k, "Unit": units.get(k, "None")} for k in present],
                }
            ],
        },
        "type": "evaluation",
        "ModelName": record["model"]["name"],
        "ModelVersion": record["model"]["version"],
        **present,
        "evaluation_id": record["evaluation_id"],
        "capture_id": record["id"],
        "prediction_ts": record["prediction_ts"],
        "prediction_day": record["prediction_day"],
        "reviewed_at": record["reviewed_at"],
        "review_version": record["review_version"],
        "reviewed_boxes": record["counts"]["reviewed_boxes"],
        "scored_candidates": record["scored_candidates"],
        "matched_iou_sum": sum(record["matched_ious"]),
        "detections": record["counts"]["detections"],
        "sampling_probability": record["sampling"].get("probability"),
        "sampling_stratum": record["sampling"].get("stratum"),
    }
