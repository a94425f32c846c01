"""COCO bbox evaluation, vectorized, with pycocotools' exact numbers.

The 12 summary stats (AP, AP50, ..., ARl) are what people compare models
by, so they must be the numbers pycocotools' ``COCOeval`` prints, to the
last bit, not "close": a model card that says AP 0.412 where the reference
says 0.413 starts an argument nobody wins. pycocotools itself cannot be
used at runtime: it pulls matplotlib, which has no place in a Lambda layer,
and its per-detection Python loops take tens of seconds on a few thousand
images. This module re-implements ``COCOeval`` (``iouType="bbox"``,
default ``Params``) in numpy and reproduces every rule that moves a number:

- IoU computed with the same floating-point operations, in the same order,
  as pycocotools' C ``bbIou`` (``x + w`` edges, ``w * h`` areas, union
  ``da + ga - i``; for crowd ground truth the union is the detection area).
- Detections sorted per image and category by descending score with a
  stable sort (mergesort in pycocotools), ties keeping input order, and
  truncated to the top 100 before matching.
- Greedy matching per IoU threshold and area range: each detection takes
  the unmatched ground truth with the highest IoU >= the threshold
  (``min(t, 1 - 1e-10)``), ties going to the later annotation; ground
  truth outside the area range (or crowd) is "ignored" and only taken when
  no regular one qualifies; crowd can be matched many times; a detection
  matched to an ignored ground truth, or unmatched and outside the area
  range, is ignored.
- A match to an annotation whose ``id`` is 0 counts as a false positive,
  because pycocotools stores the matched id and tests it for truth.
- Ground-truth area is the annotation's ``area`` field (``w * h`` if it is
  absent, where pycocotools would raise); detection area is always
  ``w * h`` of its bbox, as ``COCO.loadRes`` overwrites it.
- Area ranges ``[0, 1e10], [0, 32**2], [32**2, 96**2], [96**2, 1e10]``,
  both ends inclusive; maxDets ``1, 10, 100`` (the matches are made once,
  with 100, and the smaller budgets reuse them); IoU thresholds and the
  101 recall points built with ``np.linspace`` exactly as in ``Params``.
- Accumulation over images in ascending image-id order, a second stable
  sort by descending score, cumulative TP/FP, ``pr = tp / (fp + tp +
  eps)``, the precision envelope, ``searchsorted(..., side="left")`` at the
  recall points and 0 past the last reached recall.
- -1 where a stat is undefined (no non-ignored ground truth for any
  category in that area range), and the mean over the same elements in the
  same memory order, so even the pairwise summation matches.

Inputs pycocotools rejects or mishandles are handled explicitly: an empty
results list evaluates (0 where ground truth exists, -1 elsewhere) where
``loadRes`` raises ``IndexError``; detections on images absent from the
ground truth raise ``CocoFormatError`` as ``loadRes`` asserts; duplicate
annotation ids raise ``CocoFormatError`` (pycocotools silently evaluates
the last annotation with that id in every place the id occurs).

Pure numpy: ships in the Lambda layer.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from modelobs.boxes import as_boxes, xyxy_to_xywh

__all__ = [
    "STAT_NAMES",
    "IOU_THRESHOLDS",
    "RECALL_THRESHOLDS",
    "MAX_DETS",
    "AREA_RANGES",
    "CocoFormatError",
    "coco_eval",
    "evaluate_detections",
]

#: The 12 keys of every result, in pycocotools' ``stats`` order.
STAT_NAMES: tuple[str, ...] = (
    "AP", "AP50", "AP75", "APs", "APm", "APl",
    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)  # fmt: skip

# Built exactly as pycocotools' Params.setDetParams: np.linspace, not
# np.arange, and 0.5/0.75 are then looked up by float equality.
IOU_THRESHOLDS: NDArray[np.float64] = np.linspace(
    0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True
)
RECALL_THRESHOLDS: NDArray[np.float64] = np.linspace(
    0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True
)
MAX_DETS: tuple[int, ...] = (1, 10, 100)
AREA_RANGES: tuple[tuple[float, float], ...] = (
    (0.0**2, 1e5**2),
    (0.0**2, 32.0**2),
    (32.0**2, 96.0**2),
    (96.0**2, 1e5**2),
)
AREA_LABELS: tuple[str, ...] = ("all", "small", "medium", "large")

_AREA_LO = np.array([r[0] for r in AREA_RANGES])
_AREA_HI = np.array([r[1] for r in AREA_RANGES])
# pycocotools starts each search at min(t, 1 - 1e-10).
_THR_EFF = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)
_T = len(IOU_THRESHOLDS)
_A = len(AREA_RANGES)
_R = len(RECALL_THRESHOLDS)


class CocoFormatError(ValueError):
    """The ground truth or the results are not usable COCO; the message says where.

    ``source`` is ``"gt"`` or ``"dt"``: which input is at fault, so that a
    caller holding two files can name the right one.
    """

    def __init__(self, message: str, source: str = "gt") -> None:
        super().__init__(message)
        self.source = source


@dataclass(frozen=True)
class _Data:
    """Both sides of an evaluation as flat arrays.

    Images and categories are indices into the ascending lists of their
    ids (pycocotools evaluates ``np.unique`` of each). Ground truth is in
    annotation-list order and detections in results-list order, because
    both orders break ties.
    """

    n_img: int
    n_cat: int
    gt_img: NDArray[np.intp]
    gt_cat: NDArray[np.intp]
    gt_box: NDArray[np.float64]  # (N, 4) xywh
    gt_area: NDArray[np.float64]
    gt_crowd: NDArray[np.bool_]
    gt_id_nonzero: NDArray[np.bool_]
    dt_img: NDArray[np.intp]
    dt_cat: NDArray[np.intp]
    dt_box: NDArray[np.float64]  # (M, 4) xywh
    dt_score: NDArray[np.float64]


# --------------------------------------------------------------------------
# entry points


def coco_eval(gt: Mapping[str, Any], dt: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """COCO bbox stats of results ``dt`` against ground truth ``gt``.

    ``gt`` is a COCO dataset object (``images``, ``annotations`` with
    ``bbox [x, y, w, h]``, ``categories``); ``dt`` is a COCO results list
    (``image_id``, ``category_id``, ``bbox``, ``score``). Returns the 12
    stats of ``STAT_NAMES`` with the values pycocotools' ``COCOeval``
    (iouType ``bbox``) computes. Neither argument is modified. Raises
    ``CocoFormatError`` when either is malformed.
    """
    try:
        data = _from_coco(gt, dt)
    except CocoFormatError:
        raise
    except (TypeError, ValueError) as exc:  # a value of the wrong type somewhere deep
        raise CocoFormatError(f"ground truth or results hold a value of the wrong type: {exc}") from exc
    return _stats(_evaluate(data))


Sample = tuple[ArrayLike, Sequence[Hashable], ArrayLike, ArrayLike, Sequence[Hashable]]


def evaluate_detections(samples: Iterable[Sample]) -> dict[str, float]:
    """COCO bbox stats from in-memory boxes, for training and model cards.

    Each sample is one image: ``(gt_boxes (N, 4), gt_labels [N],
    det_boxes (M, 4), det_scores (M,), det_labels [M])`` with boxes in
    ``[x1, y1, x2, y2]`` pixels and labels of one sortable, hashable type
    (class names, usually). The result is what ``coco_eval`` returns for the COCO
    files these samples convert to: image ids 1, 2, ... in sample order,
    category ids 1, 2, ... over the sorted set of all labels (sorted, so
    the result does not depend on which class shows up first), boxes
    converted with ``xyxy_to_xywh``, ground-truth ``area = w * h``,
    ``iscrowd = 0``. Labels that never occur in ground truth contribute
    nothing, exactly as categories without ground truth do in COCO.
    """
    gts_img: list[NDArray[np.intp]] = []
    dts_img: list[NDArray[np.intp]] = []
    gt_boxes: list[NDArray[np.float64]] = []
    dt_boxes: list[NDArray[np.float64]] = []
    dt_scores: list[NDArray[np.float64]] = []
    gt_labels: list[Hashable] = []
    dt_labels: list[Hashable] = []
    n_img = 0
    for i, sample in enumerate(samples):
        try:
            g_box, g_lab, d_box, d_score, d_lab = sample
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"sample {i}: expected (gt_boxes, gt_labels, det_boxes, det_scores, det_labels)"
            ) from exc
        g = as_boxes(g_box)
        d = as_boxes(d_box)
        s = np.asarray(d_score, dtype=np.float64).reshape(-1)
        g_lab = list(g_lab)
        d_lab = list(d_lab)
        if len(g_lab) != len(g):
            raise ValueError(f"sample {i}: {len(g)} gt boxes but {len(g_lab)} gt labels")
        if not (len(d) == len(s) == len(d_lab)):
            raise ValueError(
                f"sample {i}: {len(d)} det boxes, {len(s)} scores, {len(d_lab)} det labels"
            )
        gts_img.append(np.full(len(g), i, dtype=np.intp))
        dts_img.append(np.full(len(d), i, dtype=np.intp))
        gt_boxes.append(g)
        dt_boxes.append(d)
        dt_scores.append(s)
        gt_labels.extend(g_lab)
        dt_labels.extend(d_lab)
        n_img = i + 1
    cats = sorted(set(gt_labels) | set(dt_labels))
    index = {c: k for k, c in enumerate(cats)}
    gt_xywh = xyxy_to_xywh(np.concatenate(gt_boxes) if gt_boxes else np.zeros((0, 4)))
    dt_xywh = xyxy_to_xywh(np.concatenate(dt_boxes) if dt_boxes else np.zeros((0, 4)))
    n_gt = len(gt_xywh)
    data = _Data(
        n_img=n_img,
        n_cat=len(cats),
        gt_img=np.concatenate(gts_img) if gts_img else np.zeros(0, np.intp),
        gt_cat=np.array([index[c] for c in gt_labels], dtype=np.intp),
        gt_box=gt_xywh,
        gt_area=gt_xywh[:, 2] * gt_xywh[:, 3],
        gt_crowd=np.zeros(n_gt, dtype=bool),
        gt_id_nonzero=np.ones(n_gt, dtype=bool),
        dt_img=np.concatenate(dts_img) if dts_img else np.zeros(0, np.intp),
        dt_cat=np.array([index[c] for c in dt_labels], dtype=np.intp),
        dt_box=dt_xywh,
        dt_score=np.concatenate(dt_scores) if dt_scores else np.zeros(0),
    )
    return _stats(_evaluate(data))


# --------------------------------------------------------------------------
# parsing COCO JSON objects


def _field(items: Sequence[Mapping[str, Any]], key: str, where: str) -> list[Any]:
    """``[item[key] for item in items]``, failing with the first bad item's position."""
    source = "dt" if where == "results" else "gt"
    try:
        return list(map(itemgetter(key), items))
    except (KeyError, TypeError):
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise CocoFormatError(
                    f"{where}[{i}] is a {type(item).__name__}, not an object", source
                ) from None
            if key not in item:
                raise CocoFormatError(f"{where}[{i}] has no {key!r}", source) from None
        raise


def _bboxes(items: Sequence[Mapping[str, Any]], where: str) -> NDArray[np.float64]:
    raw = _field(items, "bbox", where)
    source = "dt" if where == "results" else "gt"
    try:
        arr = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or (len(raw) and (arr.ndim != 2 or arr.shape[1] != 4)):
        for i, b in enumerate(raw):
            if not isinstance(b, (list, tuple)) or len(b) != 4:
                raise CocoFormatError(
                    f"{where}[{i}].bbox must be [x, y, w, h], got {b!r}", source
                )
        raise CocoFormatError(f"{where}: every bbox must be 4 numbers [x, y, w, h]", source)
    return arr.reshape(-1, 4)


def _index(ids: list[Any], where: str) -> dict[Any, int]:
    """Map ids to their position among the sorted unique ids, as ``np.unique`` orders them."""
    try:
        uniq = np.unique(np.array(ids)).tolist()
    except TypeError as exc:
        raise CocoFormatError(f"{where} ids must be all numbers or all strings") from exc
    return {v: i for i, v in enumerate(uniq)}


def _lookup(index: dict[Any, int], ids: list[Any]) -> NDArray[np.intp]:
    """Positions of ``ids`` in ``index``, -1 for ids it does not hold."""
    return np.fromiter(map(index.get, ids, repeat(-1)), dtype=np.intp, count=len(ids))


def _from_coco(gt: Mapping[str, Any], dt: Sequence[Mapping[str, Any]]) -> _Data:
    if not isinstance(gt, Mapping):
        raise CocoFormatError(
            "ground truth must be a COCO object with 'images', 'annotations', 'categories';"
            f" got a {type(gt).__name__}"
        )
    for key in ("images", "categories"):
        if key not in gt:
            raise CocoFormatError(f"ground truth has no {key!r} list")
        if not isinstance(gt[key], list):
            raise CocoFormatError(f"ground truth {key!r} must be a list")
    anns = gt.get("annotations", [])
    if not isinstance(anns, list):
        raise CocoFormatError("ground truth 'annotations' must be a list")
    if not isinstance(dt, list):
        raise CocoFormatError(
            f"results must be a list of detections, got a {type(dt).__name__}", "dt"
        )

    img_index = _index(_field(gt["images"], "id", "images"), "image")
    cat_index = _index(_field(gt["categories"], "id", "categories"), "category")

    # ground truth
    g_img_ids = _field(anns, "image_id", "annotations")
    g_cat_ids = _field(anns, "category_id", "annotations")
    g_box = _bboxes(anns, "annotations")
    ids = [a.get("id") for a in anns]
    if None in ids:
        raise CocoFormatError(f"annotations[{ids.index(None)}] has no 'id'")
    if len(set(ids)) != len(ids):
        seen: set[Any] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise CocoFormatError(f"annotation id {dup!r} occurs more than once")
    areas = [a.get("area") for a in anns]
    g_area = g_box[:, 2] * g_box[:, 3]
    if any(x is not None for x in areas):
        given = np.array([np.nan if x is None else x for x in areas], dtype=np.float64)
        g_area = np.where(np.isnan(given), g_area, given)
    g_crowd = np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool)
    g_img = _lookup(img_index, g_img_ids)
    g_cat = _lookup(cat_index, g_cat_ids)
    keep = (g_img >= 0) & (g_cat >= 0)  # pycocotools evaluates only listed images/categories

    # detections
    d_img_ids = _field(dt, "image_id", "results")
    d_cat_ids = _field(dt, "category_id", "results")
    d_box = _bboxes(dt, "results")
    d_score_raw = _field(dt, "score", "results")
    try:
        d_score = np.array(d_score_raw, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise CocoFormatError("results: every score must be a number", "dt") from exc
    d_img = _lookup(img_index, d_img_ids)
    if (d_img < 0).any():
        missing = sorted({d_img_ids[j] for j in np.flatnonzero(d_img < 0)}, key=repr)
        raise CocoFormatError(
            f"results reference {len(missing)} image id(s) not in the ground truth's images,"
            f" e.g. {missing[:5]!r}",
            "dt",
        )
    d_cat = _lookup(cat_index, d_cat_ids)
    dkeep = d_cat >= 0  # detections of unknown categories are not evaluated

    return _Data(
        n_img=len(img_index),
        n_cat=len(cat_index),
        gt_img=g_img[keep],
        gt_cat=g_cat[keep],
        gt_box=g_box[keep],
        gt_area=g_area[keep],
        gt_crowd=g_crowd[keep],
        gt_id_nonzero=np.array([i != 0 for i in ids], dtype=bool)[keep],
        dt_img=d_img[dkeep],
        dt_cat=d_cat[dkeep],
        dt_box=d_box[dkeep],
        dt_score=d_score[dkeep],
    )


# --------------------------------------------------------------------------
# evaluation


def _coco_iou(d: NDArray[np.float64], g: NDArray[np.float64], crowd: NDArray[np.bool_]) -> NDArray[np.float64]:
    """IoU of detections ``d (n, 4)`` with their rows of ground truth ``g (n, P, 4)``.

    Same operations in the same order as pycocotools' C ``bbIou`` so that
    IoUs sitting exactly on a threshold fall on the same side.
    """
    dx, dy, dw, dh = (d[:, None, j] for j in range(4))
    gx, gy, gw, gh = (g[..., j] for j in range(4))
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    da = dw * dh
    ga = gw * gh
    with np.errstate(divide="ignore", invalid="ignore"):
        union = np.where(crowd, da, da + ga - inter)
        iou = inter / union
    return np.where((w > 0) & (h > 0), iou, 0.0)


def _evaluate(data: _Data) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """pycocotools' ``evaluate()`` + ``accumulate()``: precision (T,R,K,A,M), recall (T,K,A,M)."""
    K = data.n_cat
    M = len(MAX_DETS)
    precision = -np.ones((_T, _R, K, _A, M))
    recall = -np.ones((_T, K, _A, M))
    if K == 0 or data.n_img == 0:
        return precision, recall

    # Ground truth grouped by (image, category), annotation order kept.
    g_group = data.gt_img.astype(np.int64) * K + data.gt_cat
    g_order = np.argsort(g_group, kind="stable")
    g_group = g_group[g_order]
    g_box = data.gt_box[g_order]
    g_crowd = data.gt_crowd[g_order]
    g_nz = data.gt_id_nonzero[g_order]
    g_area = data.gt_area[g_order]
    g_ig = g_crowd[:, None] | (g_area[:, None] < _AREA_LO) | (g_area[:, None] > _AREA_HI)  # (N, A)
    g_cat = data.gt_cat[g_order]

    # Detections grouped the same way, by descending score, stable, top 100.
    d_group = data.dt_img.astype(np.int64) * K + data.dt_cat
    n_dt = len(d_group)
    d_order = np.lexsort((np.arange(n_dt), -data.dt_score, d_group))
    d_group = d_group[d_order]
    ug, first = np.unique(d_group, return_index=True)[:2]
    rank = np.arange(n_dt) - np.repeat(first, np.diff(np.append(first, n_dt)))
    top = rank < MAX_DETS[-1]
    d_order = d_order[top]
    d_group = d_group[top]
    rank = rank[top]
    d_box = data.dt_box[d_order]
    d_score = data.dt_score[d_order]
    d_img = data.dt_img[d_order]
    d_cat = data.dt_cat[d_order]
    d_area = d_box[:, 2] * d_box[:, 3]
    n_dt = len(d_group)

    found, m_ig, m_nz = _match(g_group, g_box, g_crowd, g_nz, g_ig, d_group, d_box)
    dtm = found & m_nz  # (D, A, T): a match pycocotools counts (matched gt id is truthy)
    d_out = (d_area[:, None] < _AREA_LO) | (d_area[:, None] > _AREA_HI)  # (D, A)
    dtig = (found & m_ig) | (~dtm & d_out[:, :, None])
    tps = dtm & ~dtig
    fps = ~dtm & ~dtig

    # Non-ignored ground truth per category and area range.
    npig = np.zeros((K, _A), dtype=np.int64)
    for a in range(_A):
        npig[:, a] = np.bincount(g_cat[~g_ig[:, a]], minlength=K)

    # Accumulate: per category, all images' detections by descending score,
    # ties in image order (ascending id), then in per-image rank.
    acc = np.lexsort((rank, d_img, -d_score, d_cat))
    d_cat_s = d_cat[acc]
    rank_s = rank[acc]
    tps_s = np.ascontiguousarray(tps[acc].transpose(1, 2, 0))  # (A, T, D)
    fps_s = np.ascontiguousarray(fps[acc].transpose(1, 2, 0))
    bounds = np.searchsorted(d_cat_s, np.arange(K + 1))
    eps = np.spacing(1)
    c_min = _recall_steps(npig)  # (K, A, R)
    for k in range(K):
        areas = np.flatnonzero(npig[k] > 0)  # elsewhere stays -1: nothing to recall
        if len(areas) == 0:
            continue
        lo, hi = bounds[k], bounds[k + 1]
        rk = rank_s[lo:hi]
        n = npig[k, areas][:, None]  # (a, 1)
        seg_tp = tps_s[:, :, lo:hi] if len(areas) == _A else tps_s[areas, :, lo:hi]
        seg_fp = fps_s[:, :, lo:hi] if len(areas) == _A else fps_s[areas, :, lo:hi]
        for m, max_det in enumerate(MAX_DETS):
            sel = np.flatnonzero(rk < max_det)
            nd = len(sel)
            if nd == 0:
                recall[:, k, areas, m] = 0.0
                precision[:, :, k, areas, m] = 0.0
                continue
            whole = nd == hi - lo  # usual for maxDets=100: slice, do not copy
            # int32 cumsum: same integers as pycocotools' int64 one, many times faster
            tpi = np.cumsum(seg_tp if whole else seg_tp[:, :, sel], axis=2, dtype=np.int32)
            fpi = np.cumsum(seg_fp if whole else seg_fp[:, :, sel], axis=2, dtype=np.int32)
            tp = tpi.astype(np.float64)
            fp = fpi.astype(np.float64)
            recall[:, k, areas, m] = (tp[:, :, -1] / n).T
            pr = tp / (fp + tp + eps)
            env = np.maximum.accumulate(pr[..., ::-1], axis=2)[..., ::-1]
            # searchsorted(rc, recThrs, "left") for every row at once: rc >= r
            # exactly when the integer tp >= c_min (see _recall_steps), and
            # integer rows can be offset into one sorted array without rounding.
            rows = len(areas) * _T
            off = np.arange(rows)[:, None] * (nd + 1)
            want = np.minimum(c_min[k, areas], nd + 1)  # (a, R); > nd: never reached
            want = np.broadcast_to(want[:, None, :], (len(areas), _T, _R)).reshape(rows, _R)
            flat = (tpi.reshape(rows, nd) + off).ravel()
            idx = np.searchsorted(flat, (want + off).ravel(), side="left").reshape(rows, _R)
            idx -= np.arange(rows)[:, None] * nd
            q = np.where(
                idx < nd,
                env.reshape(rows, nd)[np.arange(rows)[:, None], np.minimum(idx, nd - 1)],
                0.0,
            )
            precision[:, :, k, areas, m] = q.reshape(len(areas), _T, _R).transpose(1, 2, 0)
    return precision, recall


def _recall_steps(npig: NDArray[np.int64]) -> NDArray[np.int64]:
    """For each category, area range and recall point: the fewest TPs that reach it.

    pycocotools finds ``searchsorted(tp / npig, recThrs, "left")``. As
    ``c / n`` is monotone in ``c``, ``tp / n >= r`` holds exactly when ``tp``
    is at least the smallest integer ``c`` with ``c / n >= r``, computed here
    with the same float division, so comparing integers gives the same index.
    """
    out = np.zeros(npig.shape + (_R,), dtype=np.int64)
    cache: dict[int, NDArray[np.int64]] = {}
    for (k, a), n in np.ndenumerate(npig):
        if n > 0:
            if n not in cache:
                cache[n] = np.searchsorted(np.arange(n + 1) / n, RECALL_THRESHOLDS, side="left")
            out[k, a] = cache[n]
    return out


def _match(
    g_group: NDArray[np.int64],
    g_box: NDArray[np.float64],
    g_crowd: NDArray[np.bool_],
    g_nz: NDArray[np.bool_],
    g_ig: NDArray[np.bool_],
    d_group: NDArray[np.int64],
    d_box: NDArray[np.float64],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """Greedy COCO matching for every detection, area range and IoU threshold at once.

    Ground truth is sorted by group in annotation order; detections by
    group, then descending score. Matching is sequential within a group
    (a detection may only take what higher-scored ones left), so the loop
    runs over the detection's rank and is vectorized across all groups,
    all 4 area ranges and all 10 thresholds. Groups are bucketed by their
    ground-truth count rounded up to a power of two so that one crowded
    image does not pad every other one.

    Returns, per detection ``(D, A, T)``: matched, matched ground truth is
    ignored, matched ground truth has a non-zero id.
    """
    n_dt = len(d_group)
    found = np.zeros((n_dt, _A, _T), dtype=bool)
    m_ig = np.zeros((n_dt, _A, _T), dtype=bool)
    m_nz = np.zeros((n_dt, _A, _T), dtype=bool)
    if n_dt == 0 or len(g_group) == 0:
        return found, m_ig, m_nz

    ug_g, gs, gn = np.unique(g_group, return_index=True, return_counts=True)
    ug_d, ds, dn = np.unique(d_group, return_index=True, return_counts=True)
    _, ig_i, id_i = np.intersect1d(ug_g, ug_d, assume_unique=True, return_indices=True)
    if len(ig_i) == 0:
        return found, m_ig, m_nz
    gs, gn, ds, dn = gs[ig_i], gn[ig_i], ds[id_i], dn[id_i]
    pad = 1 << np.ceil(np.log2(gn)).astype(np.int64)
    for p in np.unique(pad):
        sel = np.flatnonzero(pad == p)
        sel = sel[np.argsort(-dn[sel], kind="stable")]
        b_gs, b_gn, b_ds, b_dn = gs[sel], gn[sel], ds[sel], dn[sel]
        cols = np.arange(p)
        valid = cols[None, :] < b_gn[:, None]  # (nb, P)
        gidx = np.where(valid, b_gs[:, None] + cols[None, :], 0)
        box = g_box[gidx]  # (nb, P, 4)
        crowd_np = g_crowd[gidx] & valid
        # Ground-truth slot first: every reduction below runs over the leading
        # axis, elementwise across contiguous (group, area, threshold) blocks.
        crowd = np.ascontiguousarray(crowd_np.T)[:, :, None, None]  # (P, nb, 1, 1)
        nz = np.ascontiguousarray(g_nz[gidx].T)  # (P, nb)
        ig = np.ascontiguousarray(g_ig[gidx].transpose(1, 0, 2))  # (P, nb, A)
        regular_gt = ~ig[..., None]  # (P, nb, A, 1)
        slot = cols.reshape(p, 1, 1, 1)
        taken = np.zeros((p, len(sel), _A, _T), dtype=bool)
        # rows that still have a detection at step r: a prefix, as dn is descending
        n_active = np.searchsorted(-b_dn, -np.arange(int(b_dn[0])), side="left")
        for r in range(int(b_dn[0])):
            na = int(n_active[r])
            didx = b_ds[:na] + r
            iou = _coco_iou(d_box[didx], box[:na], crowd_np[:na])  # (na, P)
            iou = np.where(valid[:na], iou, -1.0).T[:, :, None, None]  # (P, na, 1, 1)
            over = iou >= _THR_EFF  # (P, na, 1, T)
            elig = over & (~taken[:, :na] | crowd[:, :na])  # (P, na, A, T)
            regular = elig & regular_gt[:, :na]
            cand = np.where(regular.any(0), regular, elig)
            hit = cand.any(0)  # (na, A, T)
            scored = np.where(cand, iou, -1.0)
            # the last slot holding the max: pycocotools replaces on >=
            best = ((scored == scored.max(0)) & cand) * slot
            best = best.max(0)
            rows, aa, tt = np.nonzero(hit)
            bb = best[rows, aa, tt]
            taken[bb, rows, aa, tt] = True
            found[didx] = hit
            m_ig[didx[rows], aa, tt] = ig[bb, rows, aa]
            m_nz[didx[rows], aa, tt] = nz[bb, rows]
    return found, m_ig, m_nz


def _stats(pr_rc: tuple[NDArray[np.float64], NDArray[np.float64]]) -> dict[str, float]:
    """pycocotools' ``summarize()``: same slices, same mean over ``s > -1``."""
    precision, recall = pr_rc

    def one(ap: bool, iou_thr: float | None = None, area: str = "all", max_dets: int = 100) -> float:
        aind = [AREA_LABELS.index(area)]
        mind = [MAX_DETS.index(max_dets)]
        if ap:
            s = precision
            if iou_thr is not None:
                s = s[np.where(iou_thr == IOU_THRESHOLDS)[0]]
            s = s[:, :, :, aind, mind]
        else:
            s = recall
            if iou_thr is not None:
                s = s[np.where(iou_thr == IOU_THRESHOLDS)[0]]
            s = s[:, :, aind, mind]
        if len(s[s > -1]) == 0:
            return -1.0
        return float(np.mean(s[s > -1]))

    values = (
        one(True),
        one(True, iou_thr=0.5),
        one(True, iou_thr=0.75),
        one(True, area="small"),
        one(True, area="medium"),
        one(True, area="large"),
        one(False, max_dets=1),
        one(False, max_dets=10),
        one(False),
        one(False, area="small"),
        one(False, area="medium"),
        one(False, area="large"),
    )
    return dict(zip(STAT_NAMES, values, strict=True))
