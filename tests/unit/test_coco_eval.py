"""The COCO evaluator against pycocotools itself: equal stats, not close ones."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from coco_synth import STAT_NAMES, pycocotools_eval, pycocotools_stats, random_coco, to_samples
from modelobs import coco_eval as ce
from modelobs.coco_eval import (
    IOU_THRESHOLDS,
    CocoFormatError,
    coco_eval,
    evaluate_detections,
)


def assert_same(ours: dict[str, float], ref: dict[str, float]) -> None:
    assert list(ours) == list(STAT_NAMES)
    diffs = {k: abs(ours[k] - ref[k]) for k in STAT_NAMES}
    assert max(diffs.values()) == 0.0, {k: (ours[k], ref[k]) for k, v in diffs.items() if v}


@pytest.mark.parametrize("seed", range(40))
def test_random_sets_match_pycocotools(seed: int) -> None:
    rng = np.random.default_rng(seed)
    gt, dt = random_coco(
        rng,
        n_img=int(rng.integers(1, 25)),
        n_cat=int(rng.integers(1, 6)),
        crowd=0.0 if seed % 4 else 0.15,  # every 4th set has crowd regions
        integer=seed % 3 == 0,  # integer boxes: IoUs exactly on thresholds, exact ties
        many_dets=0.02,  # > 100 detections on an image now and then (dense test below: always)
    )
    before = copy.deepcopy((gt, dt))
    ref = pycocotools_eval(gt, dt)
    assert_same(coco_eval(gt, dt), dict(zip(STAT_NAMES, ref.stats.tolist())))
    assert (gt, dt) == before, "inputs must not be modified"
    # Not only the 12 means: every precision and recall cell, bit for bit.
    precision, recall = ce._evaluate(ce._from_coco(gt, dt))
    assert np.array_equal(precision, ref.eval["precision"])
    assert np.array_equal(recall, ref.eval["recall"])


@pytest.mark.parametrize("seed", range(6))
def test_dense_images_past_max_dets(seed: int) -> None:
    """Many detections per image: maxDets 1/10/100 and the per-image top-100 cut matter."""
    rng = np.random.default_rng(1000 + seed)
    gt, dt = random_coco(rng, n_img=4, n_cat=1, max_gt=25, max_dt=60, many_dets=0.5)
    assert max(sum(d["image_id"] == i["id"] for d in dt) for i in gt["images"]) > 100
    assert_same(coco_eval(gt, dt), pycocotools_stats(gt, dt))


@pytest.mark.parametrize("seed", range(6))
def test_evaluate_detections_equals_coco_of_the_same_boxes(seed: int) -> None:
    rng = np.random.default_rng(2000 + seed)
    gt, dt = random_coco(rng, n_img=20, n_cat=3)
    samples = to_samples(gt, dt)
    # The COCO files evaluate_detections promises to be equivalent to.
    labels = sorted({lab for s in samples for lab in [*s[1], *s[4]]})
    cat = {lab: k + 1 for k, lab in enumerate(labels)}
    ref_gt = {"images": [{"id": i + 1} for i in range(len(samples))], "annotations": [], "categories": [{"id": v} for v in cat.values()]}
    ref_dt = []
    for i, (gb, gl, db, ds, dl) in enumerate(samples):
        for b, lab in zip(gb, gl, strict=True):
            w, h = b[2] - b[0], b[3] - b[1]
            ref_gt["annotations"].append(
                {"id": len(ref_gt["annotations"]) + 1, "image_id": i + 1, "category_id": cat[lab],
                 "bbox": [b[0], b[1], w, h], "area": w * h, "iscrowd": 0}
            )  # fmt: skip
        for b, s, lab in zip(db, ds, dl, strict=True):
            ref_dt.append({"image_id": i + 1, "category_id": cat[lab], "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "score": s})
    assert_same(evaluate_detections(samples), pycocotools_stats(ref_gt, ref_dt))


def test_evaluate_detections_accepts_lists_and_empty_images() -> None:
    samples = [
        ([[0, 0, 10, 10]], ["cat"], [[0, 0, 10, 10]], [0.9], ["cat"]),
        ([], [], [], [], []),
        ([[50, 50, 150, 150]], ["dog"], [], [], []),
    ]
    stats = evaluate_detections(samples)
    # cat: found perfectly; dog: missed. Mean over the two classes.
    assert stats["AP50"] == pytest.approx(0.5)
    assert stats["APs"] == pytest.approx(1.0)  # only the cat is small
    assert stats["APl"] == 0.0  # the dog is large and missed
    assert stats["APm"] == -1.0  # no medium ground truth at all


def test_evaluate_detections_rejects_inconsistent_samples() -> None:
    with pytest.raises(ValueError, match="labels"):
        evaluate_detections([([[0, 0, 1, 1]], [], [], [], [])])
    with pytest.raises(ValueError, match="scores"):
        evaluate_detections([([], [], [[0, 0, 1, 1]], [], ["a"])])


def test_no_images_or_no_categories_is_all_undefined() -> None:
    assert set(evaluate_detections([]).values()) == {-1.0}
    assert set(coco_eval({"images": [{"id": 1}], "categories": []}, []).values()) == {-1.0}


def test_empty_results_score_zero_where_ground_truth_exists() -> None:
    """pycocotools' loadRes crashes on []; one result of an unlisted category is the same thing to it."""
    gt, _ = random_coco(np.random.default_rng(7), n_img=10)
    ours = coco_eval(gt, [])
    placeholder = [{"image_id": gt["images"][0]["id"], "category_id": 12345, "bbox": [0, 0, 1, 1], "score": 1.0}]
    assert_same(ours, pycocotools_stats(gt, placeholder))
    assert set(ours.values()) <= {0.0, -1.0}


def test_missing_area_and_iscrowd_default_like_a_results_file() -> None:
    gt, dt = random_coco(np.random.default_rng(8), n_img=15)
    bare = copy.deepcopy(gt)
    for a in bare["annotations"]:
        del a["area"], a["iscrowd"]
    full = copy.deepcopy(bare)
    for a in full["annotations"]:
        a["area"], a["iscrowd"] = a["bbox"][2] * a["bbox"][3], 0
    assert_same(coco_eval(bare, dt), pycocotools_stats(full, dt))


def test_given_area_wins_over_the_box() -> None:
    """pycocotools ranges ground truth by its 'area' field (segment area in real COCO), not w*h."""
    gt, dt = random_coco(np.random.default_rng(9), n_img=15)
    for a in gt["annotations"]:
        a["area"] = a["area"] * 0.3
    assert_same(coco_eval(gt, dt), pycocotools_stats(gt, dt))


def test_equal_ious_go_to_the_later_ground_truth() -> None:
    """The first detection ties between two boxes; which one it took decides the second's IoU."""
    boxes = [[0, 0, 10, 10], [2, 0, 10, 10]]  # the detection at x=1 has IoU 90/110 with both
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}],
          "annotations": [{"id": i + 1, "image_id": 1, "category_id": 1, "bbox": b, "area": 100, "iscrowd": 0}
                          for i, b in enumerate(boxes)]}  # fmt: skip
    dt = [
        {"image_id": 1, "category_id": 1, "bbox": [1, 0, 10, 10], "score": 0.9},
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.8},
    ]
    ours = coco_eval(gt, dt)
    assert_same(ours, pycocotools_stats(gt, dt))
    assert ours["AR100"] == pytest.approx((2 * 7 + 1 * 3) / 20)  # both found up to IoU 0.8


def test_annotation_id_zero_is_a_false_positive_as_in_pycocotools() -> None:
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}],
          "annotations": [{"id": 0, "image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "area": 2500, "iscrowd": 0}]}  # fmt: skip
    dt = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "score": 0.9}]
    ours = coco_eval(gt, dt)
    assert_same(ours, pycocotools_stats(gt, dt))
    assert ours["AP"] == 0.0


def test_thresholds_are_built_like_pycocotools() -> None:
    from pycocotools.cocoeval import Params

    p = Params(iouType="bbox")
    assert np.array_equal(IOU_THRESHOLDS, p.iouThrs)
    assert (IOU_THRESHOLDS == 0.75).any() and (IOU_THRESHOLDS == 0.5).any()


def test_results_on_unknown_images_are_rejected() -> None:
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": []}
    with pytest.raises(CocoFormatError, match="not in the ground truth"):
        coco_eval(gt, [{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}])


@pytest.mark.parametrize(
    ("gt", "dt", "message"),
    [
        ([], [], "COCO object"),
        ({"annotations": [], "categories": []}, [], "'images'"),
        ({"images": [], "annotations": []}, [], "'categories'"),
        ({"images": [{"id": 1}], "categories": [{"id": 1}]}, {"image_id": 1}, "list of detections"),
        ({"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1}]}, [], r"annotations\[0\] has no 'bbox'"),
        ({"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}]}, [], r"bbox must be \[x, y, w, h\]"),
        ({"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": []}, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}], r"results\[0\] has no 'score'"),
        ({"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [
            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}]}, [], "id 3 occurs more than once"),
    ],
)  # fmt: skip
def test_malformed_input_says_what_is_wrong(gt, dt, message) -> None:
    with pytest.raises(CocoFormatError, match=message):
        coco_eval(gt, dt)
