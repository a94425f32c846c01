"""Per-image matching and counts: hand-computed cases, and COCO's own matches on random ones."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from modelobs.matching import counts, image_stats, match_detections


def test_hand_computed_image() -> None:
    gt = [[0, 0, 10, 10], [20, 0, 30, 10], [0, 50, 10, 60]]
    gl = ["cat", "cat", "dog"]
    det = [
        [0, 0, 10, 10],  # cat, IoU 1 with gt 0                       score .9  TP
        [1, 0, 11, 10],  # cat, IoU 90/110 with gt 0, taken -> FP     score .8  FP
        [25, 0, 35, 10],  # cat, IoU 50/150 with gt 1: below 0.5     score .7  FP
        [0, 50, 10, 60],  # labelled cat on the dog: wrong class      score .3  FP
        [0, 51, 10, 61],  # dog, IoU 90/110 with gt 2                 score .2  TP
    ]
    scores = [0.9, 0.8, 0.7, 0.3, 0.2]
    dl = ["cat", "cat", "cat", "cat", "dog"]
    st = image_stats(gt, gl, det, scores, dl, score_threshold=0.5)

    assert [(m.det, m.gt, m.label) for m in st.matches] == [(0, 0, "cat"), (4, 2, "dog")]
    a = st.all
    assert (a.n_gt, a.n_det, a.tp, a.fp, a.fn) == (3, 5, 2, 3, 1)
    assert a.precision == pytest.approx(2 / 5)
    assert a.recall == pytest.approx(2 / 3)
    assert a.f1 == pytest.approx(2 * 2 / (2 * 2 + 3 + 1))
    assert a.mean_iou == pytest.approx((1 + 90 / 110) / 2)

    t = st.at_threshold  # only the three cat detections at .9/.8/.7
    assert (t.n_gt, t.n_det, t.tp, t.fp, t.fn) == (3, 3, 1, 2, 2)
    assert t.mean_iou == 1.0

    cat, dog = st.per_class["cat"], st.per_class["dog"]
    assert (cat.all.tp, cat.all.fp, cat.all.fn) == (1, 3, 1)
    assert (dog.all.tp, dog.all.fp, dog.all.fn) == (1, 0, 0)
    assert (dog.at_threshold.n_det, dog.at_threshold.fn, dog.at_threshold.precision) == (0, 1, None)
    assert dog.at_threshold.recall == 0.0 and dog.at_threshold.f1 == 0.0


def test_zero_over_zero_is_none_and_documented_cases() -> None:
    empty = counts(0, 0, [])
    assert (empty.precision, empty.recall, empty.f1, empty.mean_iou) == (None, None, None, None)
    missed = counts(3, 0, [])  # ground truth, no detections
    assert (missed.precision, missed.recall, missed.f1, missed.fn) == (None, 0.0, 0.0, 3)
    hallucinated = counts(0, 2, [])  # detections, no ground truth
    assert (hallucinated.precision, hallucinated.recall, hallucinated.f1, hallucinated.fp) == (0.0, None, 0.0, 2)
    with pytest.raises(ValueError):
        counts(1, 1, [0.9, 0.8])


def test_empty_image_stats_serialize() -> None:
    st = image_stats([], [], [], [], [], score_threshold=0.5)
    d = st.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["all"]["tp"] == 0 and d["all"]["f1"] is None and d["per_class"] == {} and d["matches"] == []


def test_greedy_by_score_not_by_iou() -> None:
    """The higher-scored detection takes the box even though the other overlaps it better."""
    gt = [[0, 0, 10, 10]]
    det = [[0, 0, 10, 9], [0, 0, 10, 10]]
    pairs = match_detections(gt, ["a"], det, [0.9, 0.5], ["a", "a"])
    assert [(p.det, p.gt, p.iou) for p in pairs] == [(0, 0, pytest.approx(0.9))]


def test_equal_iou_goes_to_the_later_ground_truth_and_ties_in_score_keep_order() -> None:
    gt = [[0, 0, 10, 10], [2, 0, 12, 10]]
    det = [[1, 0, 11, 10], [1, 0, 11, 10]]
    pairs = match_detections(gt, ["a", "a"], det, [0.5, 0.5], ["a", "a"])
    assert [(p.det, p.gt) for p in pairs] == [(0, 1), (1, 0)]


def test_threshold_is_inclusive() -> None:
    gt = [[0, 0, 10, 10]]
    det = [[0, 0, 10, 20]]  # IoU exactly 100/200
    assert len(match_detections(gt, ["a"], det, [1.0], ["a"], iou_threshold=0.5)) == 1
    assert match_detections(gt, ["a"], det, [1.0], ["a"], iou_threshold=0.51) == []


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="labels"):
        image_stats([[0, 0, 1, 1]], [], [], [], [], score_threshold=0.5)
    with pytest.raises(ValueError, match="scores"):
        image_stats([], [], [[0, 0, 1, 1]], [], ["a"], score_threshold=0.5)
    with pytest.raises(ValueError, match="NaN"):
        image_stats([], [], [[0, 0, 1, 1]], [float("nan")], ["a"], score_threshold=0.5)


@pytest.mark.parametrize("seed", range(8))
def test_matches_are_the_ones_pycocotools_makes_at_iou_05(seed: int) -> None:
    """Integer boxes (exact in both conventions): our pairs == COCOeval's dtMatches at t=0.5, area all."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    rng = np.random.default_rng(seed)
    n_gt, n_dt = int(rng.integers(0, 12)), int(rng.integers(0, 30))
    gt = rng.integers(0, 60, (n_gt, 2))
    gt = np.hstack([gt, gt + rng.integers(4, 30, (n_gt, 2))]).astype(float)
    src = gt[rng.integers(0, max(n_gt, 1), n_dt)] if n_gt else np.zeros((n_dt, 4)) + [0, 0, 10, 10]
    det = src + rng.integers(-3, 4, (n_dt, 4))
    det[:, 2:] = np.maximum(det[:, 2:], det[:, :2] + 1)
    scores = np.round(rng.random(n_dt), 1)  # many ties
    gl = [str(x) for x in rng.integers(0, 2, n_gt)]
    dl = [str(x) for x in rng.integers(0, 2, n_dt)]

    coco = {"images": [{"id": 1}], "categories": [{"id": 0}, {"id": 1}], "annotations": [
        {"id": i + 1, "image_id": 1, "category_id": int(gl[i]), "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
         "area": (b[2] - b[0]) * (b[3] - b[1]), "iscrowd": 0} for i, b in enumerate(gt)]}  # fmt: skip
    res = [{"image_id": 1, "category_id": int(dl[j]), "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
            "score": float(scores[j])} for j, b in enumerate(det)]  # fmt: skip
    expected = set()
    if res:
        with contextlib.redirect_stdout(io.StringIO()):
            c = COCO()
            c.dataset = coco
            c.createIndex()
            ev = COCOeval(c, c.loadRes(res), "bbox")
            ev.evaluate()
        for e in ev.evalImgs:
            if e is not None and e["aRng"] == [0, 1e10]:
                for dt_id, gt_id in zip(e["dtIds"], e["dtMatches"][0], strict=True):
                    if gt_id:
                        expected.add((dt_id - 1, int(gt_id) - 1))
    pairs = match_detections(gt, gl, det, scores, dl)
    assert {(p.det, p.gt) for p in pairs} == expected
