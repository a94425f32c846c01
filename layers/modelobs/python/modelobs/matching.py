"""Per-image evaluation: which detection found which object, and the counts.

The evaluate function calls this once per reviewed image and stores the
result in the evaluation record; windowed metrics are later summed from
those records. So the record keeps the raw counts (TP, FP, FN, number of
ground-truth boxes and detections) next to the ratios: ratios of sums are
the right way to aggregate, averages of per-image ratios are not.

Matching follows COCO so that per-image numbers agree with the AP the
model card reports: per class, detections are taken in descending score
order (stable, so ties keep input order), and each takes the unmatched
ground-truth box of the same label with the highest IoU, provided that IoU
is at least the threshold (COCO's ``min(t, 1 - 1e-10)``); among equal
IoUs the later ground-truth box wins, as in pycocotools. Unlike COCO's AP
there is no cap of 100 detections: every candidate the model returned is
counted. There are no crowd or area-range rules here (review boxes have
neither).

Two views of the same image are reported:

- ``all``: every candidate detection (the prediction record keeps all
  candidates above a low floor precisely so this and AP can be computed);
- ``at_threshold``: only detections with ``score >= score_threshold``,
  the operating point clients actually act on. Because matching is greedy
  by score, these detections make the same matches as in ``all`` (they come
  first in the order), so they are that prefix, not a second matching.

Undefined ratios are ``None`` (JSON ``null``) rather than a made-up 0 or 1,
so that an image with nothing to find or nothing found never moves an
average by itself:

- ``precision = tp / (tp + fp)``; ``None`` when there are no detections.
- ``recall = tp / (tp + fn)``; ``None`` when there is no ground truth.
- ``f1 = 2 tp / (2 tp + fp + fn)``, the harmonic mean of the two when both
  exist; ``None`` only when there are neither detections nor ground truth
  (an empty image correctly left empty). With ground truth but no
  detections, or detections but no ground truth, it is 0.
- ``mean_iou``: mean IoU of the matched pairs; ``None`` when nothing matched.

Pure numpy: ships in the Lambda layer.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from modelobs.boxes import as_boxes, iou_matrix

__all__ = [
    "MatchedPair",
    "Counts",
    "ClassStats",
    "ImageStats",
    "match_detections",
    "counts",
    "image_stats",
]


@dataclass(frozen=True)
class MatchedPair:
    """One detection matched to one ground-truth box (indices into the inputs)."""

    det: int
    gt: int
    label: str
    score: float
    iou: float


@dataclass(frozen=True)
class Counts:
    """Counts and ratios for one set of detections against one set of ground truth."""

    n_gt: int
    n_det: int
    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None
    mean_iou: float | None


@dataclass(frozen=True)
class ClassStats:
    """One class's counts over all candidates and at the operating threshold."""

    all: Counts
    at_threshold: Counts


@dataclass(frozen=True)
class ImageStats:
    """Everything the evaluation record stores about one image.

    ``matches`` are the matches over all candidates, in the order they were
    made; the ones at the threshold are those with ``score >=
    score_threshold``. ``to_dict()`` gives plain JSON-serializable types.
    """

    iou_threshold: float
    score_threshold: float
    all: Counts
    at_threshold: Counts
    per_class: dict[str, ClassStats] = field(default_factory=dict)
    matches: list[MatchedPair] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def counts(n_gt: int, n_det: int, ious: Sequence[float]) -> Counts:
    """Counts and ratios from the number of boxes on each side and the matched IoUs.

    Public so that windowed metrics can be computed the same way from
    summed counts (pass the concatenated IoUs, or an empty list and ignore
    ``mean_iou``). See the module docstring for the ``None`` cases.
    """
    tp = len(ious)
    if tp > n_gt or tp > n_det:
        raise ValueError(f"{tp} matches with {n_gt} ground-truth boxes and {n_det} detections")
    fp = n_det - tp
    fn = n_gt - tp
    return Counts(
        n_gt=int(n_gt),
        n_det=int(n_det),
        tp=tp,
        fp=fp,
        fn=fn,
        precision=_ratio(tp, n_det),
        recall=_ratio(tp, n_gt),
        f1=_ratio(2 * tp, 2 * tp + fp + fn),
        mean_iou=float(np.mean(ious)) if tp else None,
    )


def _check(
    gt_boxes: ArrayLike,
    gt_labels: Sequence[Hashable],
    det_boxes: ArrayLike,
    det_scores: ArrayLike,
    det_labels: Sequence[Hashable],
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, list[str]]:
    g = as_boxes(gt_boxes)
    d = as_boxes(det_boxes)
    s = np.asarray(det_scores, dtype=np.float64).reshape(-1)
    gl = [str(x) for x in gt_labels]
    dl = [str(x) for x in det_labels]
    if len(gl) != len(g):
        raise ValueError(f"{len(g)} ground-truth boxes but {len(gl)} labels")
    if not (len(d) == len(s) == len(dl)):
        raise ValueError(f"{len(d)} detection boxes, {len(s)} scores, {len(dl)} labels")
    if np.isnan(s).any():
        raise ValueError("detection scores contain NaN; they cannot be ranked")
    return g, gl, d, s, dl


def match_detections(
    gt_boxes: ArrayLike,
    gt_labels: Sequence[Hashable],
    det_boxes: ArrayLike,
    det_scores: ArrayLike,
    det_labels: Sequence[Hashable],
    iou_threshold: float = 0.5,
) -> list[MatchedPair]:
    """COCO-style greedy matching per class; boxes ``[x1, y1, x2, y2]``.

    Returns the matched pairs in the order they were made (descending
    score, ties in input order). Labels are compared as strings.
    """
    g, gl, d, s, dl = _check(gt_boxes, gt_labels, det_boxes, det_scores, det_labels)
    thr = min(float(iou_threshold), 1 - 1e-10)
    g_lab = np.array(gl, dtype=object)
    d_lab = np.array(dl, dtype=object)
    pairs: list[MatchedPair] = []
    for label in sorted(set(gl) & set(dl)):
        gi = np.flatnonzero(g_lab == label)
        di = np.flatnonzero(d_lab == label)
        di = di[np.argsort(-s[di], kind="stable")]
        ious = iou_matrix(d[di], g[gi])
        free = np.ones(len(gi), dtype=bool)
        for row, det in enumerate(di):
            ok = free & (ious[row] >= thr)
            if not ok.any():
                continue
            cand = np.where(ok, ious[row], -1.0)
            j = len(cand) - 1 - int(np.argmax(cand[::-1]))  # last of equal maxima, as COCO
            free[j] = False
            pairs.append(
                MatchedPair(
                    det=int(det), gt=int(gi[j]), label=label,
                    score=float(s[det]), iou=float(ious[row, j]),
                )  # fmt: skip
            )
    pairs.sort(key=lambda p: (-p.score, p.det))
    return pairs


def image_stats(
    gt_boxes: ArrayLike,
    gt_labels: Sequence[Hashable],
    det_boxes: ArrayLike,
    det_scores: ArrayLike,
    det_labels: Sequence[Hashable],
    *,
    score_threshold: float,
    iou_threshold: float = 0.5,
) -> ImageStats:
    """Counts, ratios and matches for one image, overall and per class.

    ``score_threshold`` is the model's operating threshold, stored in the
    prediction record beside the candidates. Classes are every label that
    occurs on either side, as strings, sorted.
    """
    g, gl, d, s, dl = _check(gt_boxes, gt_labels, det_boxes, det_scores, det_labels)
    pairs = match_detections(g, gl, d, s, dl, iou_threshold)
    keep = s >= score_threshold
    at_pairs = [p for p in pairs if p.score >= score_threshold]

    def both(
        n_gt: int, dets: np.ndarray, these: list[MatchedPair], these_at: list[MatchedPair]
    ) -> tuple[Counts, Counts]:
        return (
            counts(n_gt, int(dets.sum()), [p.iou for p in these]),
            counts(n_gt, int((dets & keep).sum()), [p.iou for p in these_at]),
        )

    ones = np.ones(len(s), dtype=bool)
    overall, overall_at = both(len(gl), ones, pairs, at_pairs)
    d_lab = np.array(dl, dtype=object)
    per_class: dict[str, ClassStats] = {}
    for label in sorted(set(gl) | set(dl)):
        c_all, c_at = both(
            gl.count(label),
            d_lab == label if len(dl) else np.zeros(0, dtype=bool),
            [p for p in pairs if p.label == label],
            [p for p in at_pairs if p.label == label],
        )
        per_class[label] = ClassStats(all=c_all, at_threshold=c_at)
    return ImageStats(
        iou_threshold=float(iou_threshold),
        score_threshold=float(score_threshold),
        all=overall,
        at_threshold=overall_at,
        per_class=per_class,
        matches=pairs,
    )
