"""Quality over a window (a prediction day, a model version) from per-image evaluation lines.

Each evaluation line carries counts and every candidate's ``(score,
matched)`` pair, so any window's numbers are sums, not averages of
averages: precision = ΣTP / Σ(TP+FP), recall = ΣTP / Σ(TP+FN), mean IoU =
Σ IoU / ΣTP, and AP50 is COCO's: the window's candidates pooled and sorted
by score, precision made monotone, sampled at 101 recall points (the same
number pycocotools gives for one category at IoU 0.5).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def ap_from_scored(scored: Sequence[Sequence[float]], n_gt: int) -> float | None:
    """COCO-style AP from pooled ``(score, matched)`` pairs; None when there is no ground truth."""
    if n_gt <= 0:
        return None
    if not len(scored):
        return 0.0
    arr = np.asarray(scored, dtype=np.float64)
    order = np.argsort(-arr[:, 0], kind="mergesort")
    tp = np.cumsum(arr[order, 1])
    fp = np.cumsum(1.0 - arr[order, 1])
    recall = tp / n_gt
    precision = tp / np.maximum(tp + fp, np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0.0)
    return float(np.mean(sampled))


@dataclass
class Window:
    images: int = 0
    reviewed: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    n_gt: int = 0
    iou_sum: float = 0.0
    scored: list[list[float]] = field(default_factory=list)

    def add_evaluation(self, line: Mapping[str, Any]) -> None:
        self.reviewed += 1
        self.tp += int(line.get("TP", 0))
        self.fp += int(line.get("FP", 0))
        self.fn += int(line.get("FN", 0))
        self.n_gt += int(line.get("reviewed_boxes", 0))
        self.iou_sum += float(line.get("matched_iou_sum", 0.0))
        self.scored.extend(line.get("scored_candidates", []))

    def summary(self) -> dict[str, Any]:
        def ratio(a: float, b: float) -> float | None:
            return a / b if b else None

        return {
            "images": self.images,
            "reviewed": self.reviewed,
            "precision": ratio(self.tp, self.tp + self.fp),
            "recall": ratio(self.tp, self.tp + self.fn),
            "mean_iou": ratio(self.iou_sum, self.tp),
            "AP50": ap_from_scored(self.scored, self.n_gt),
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
        }


def windows(
    evaluations: Iterable[Mapping[str, Any]], predictions: Iterable[Mapping[str, Any]] = ()
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per ``(prediction_day, model version)``: traffic counted from prediction lines, quality from
    evaluation lines, each capture counted once (its latest line: a replay or a newer review replaces it)."""
    acc: dict[tuple[str, str], Window] = defaultdict(Window)
    for line in predictions:
        acc[(line["prediction_day"], line["model"]["version"])].images += 1
    # One evaluation per capture: a re-delivered line (same evaluation_id) or a later review of
    # the same capture replaces the earlier one, so nothing is counted twice.
    latest: dict[str, Mapping[str, Any]] = {}
    for line in evaluations:
        latest[line["capture_id"]] = line
    for line in latest.values():
        acc[(line["prediction_day"], line["ModelVersion"])].add_evaluation(line)
    return {key: w.summary() for key, w in sorted(acc.items())}
