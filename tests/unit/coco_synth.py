"""Random COCO ground truth and results that hit pycocotools' edge cases, and the reference.

Shared by the evaluator tests and bench/eval.py. The generator is built to
provoke every rule that can move a COCO number: empty images, ground truth
without detections and detections without ground truth, score ties,
duplicate boxes (equal-IoU ties), boxes with areas exactly on and around
32**2 and 96**2, crowd regions, categories without ground truth,
detections of categories the ground truth does not list, more than 100
detections on one image, and unsorted image ids.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def pycocotools_stats(gt: dict[str, Any], dt: list[dict[str, Any]]) -> dict[str, float]:
    """The 12 stats from pycocotools itself, its printing silenced, inputs left untouched."""
    return dict(zip(STAT_NAMES, (float(x) for x in pycocotools_eval(gt, dt).stats), strict=True))


def pycocotools_eval(gt: dict[str, Any], dt: list[dict[str, Any]]) -> Any:
    """A summarized ``COCOeval``, for its ``eval["precision"]``/``["recall"]`` arrays too."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dt))
        ev = COCOeval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _size(rng: np.random.Generator) -> tuple[float, float]:
    """Width and height; a third of them put the area on or next to 32**2 or 96**2."""
    r = rng.random()
    if r < 0.12:
        side = float(rng.choice([32.0, 96.0]))
        return side, side  # exactly on the boundary: counts in both ranges
    if r < 0.24:
        side = float(rng.choice([32.0, 96.0]))
        return side, side + float(rng.choice([-0.01, 0.01]))
    if r < 0.33:
        return 16.0, 64.0  # 1024 as a non-square
    s = float(rng.choice([rng.uniform(2, 32), rng.uniform(32, 96), rng.uniform(96, 250)]))
    ar = rng.uniform(0.4, 2.5)
    return s * np.sqrt(ar), s / np.sqrt(ar)


def random_coco(
    rng: np.random.Generator,
    n_img: int = 30,
    n_cat: int = 4,
    max_gt: int = 8,
    max_dt: int = 14,
    crowd: float = 0.0,
    integer: bool = False,
    many_dets: float = 0.05,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A random (ground truth, results) pair; see the module docstring."""
    img_ids = [int(i) for i in rng.permutation(n_img) * 3 + 7]  # unsorted, not 1..n
    cat_ids = [int(c) for c in rng.permutation(n_cat) * 5 + 1]
    gt_cats = cat_ids[:-1] if n_cat > 1 and rng.random() < 0.3 else cat_ids  # last may be GT-less
    anns: list[dict[str, Any]] = []
    dts: list[dict[str, Any]] = []
    for im in img_ids:
        kind = rng.random()
        n_gt = 0 if kind < 0.1 else int(rng.integers(0, max_gt + 1))
        if kind < 0.05:
            n_dt = 0  # empty image
        elif kind > 1 - many_dets:
            n_dt = int(rng.integers(101, 140))  # past maxDets=100
        else:
            n_dt = int(rng.integers(0, max_dt + 1))
        boxes = []
        for _ in range(n_gt):
            w, h = _size(rng)
            x, y = rng.uniform(0, 400, 2)
            if integer:
                x, y, w, h = (float(round(v)) or 1.0 for v in (x, y, w, h))
            if boxes and rng.random() < 0.1:  # a duplicate box
                x, y, w, h = boxes[-1][0]
            cat = int(rng.choice(gt_cats))
            if boxes and rng.random() < 0.1:
                # A neighbour shifted by 2 px and a detection half-way: both IoUs are
                # equal, pycocotools gives the tie to the later ground truth, and a
                # second detection on the first box shows which one it took.
                (x, y, w, h), cat = boxes[-1]
                x += 2.0
                for dx, score in ((1.0, 0.97), (0.0, 0.96)):
                    dts.append({"image_id": im, "category_id": cat, "bbox": [x - 2.0 + dx, y, w, h], "score": score})
            ann = {
                "id": len(anns) + 1,
                "image_id": im,
                "category_id": cat,
                "bbox": [float(x), float(y), float(w), float(h)],
                "area": float(w * h),
                "iscrowd": int(rng.random() < crowd),
            }
            anns.append(ann)
            boxes.append(((x, y, w, h), cat))
        score_pool = rng.random(4)  # draw from a small pool sometimes: ties
        for _ in range(n_dt):
            if boxes and rng.random() < 0.7:
                (x, y, w, h), cat = boxes[int(rng.integers(len(boxes)))]
                jitter = rng.normal(0, 0.1 * min(w, h) + 0.5, 4)
                if rng.random() < 0.15:
                    jitter[:] = 0  # exact copy of the ground truth
                x, y, w, h = x + jitter[0], y + jitter[1], abs(w + jitter[2]) + 0.5, abs(h + jitter[3]) + 0.5
                if rng.random() < 0.1:
                    cat = int(rng.choice(cat_ids))
            else:
                w, h = _size(rng)
                x, y = rng.uniform(0, 400, 2)
                cat = int(rng.choice(cat_ids))
            if integer:
                x, y, w, h = (float(round(v)) or 1.0 for v in (x, y, w, h))
            r = rng.random()
            score = float(rng.choice(score_pool)) if r < 0.3 else float(np.round(rng.random(), 2))
            if rng.random() < 0.03:
                cat = 999  # not a ground-truth category: must be skipped
            dts.append({"image_id": im, "category_id": cat, "bbox": [float(x), float(y), float(w), float(h)], "score": score})
    order = rng.permutation(len(dts))  # results not grouped by image
    dts = [dts[i] for i in order]
    gt = {
        "images": [{"id": i, "width": 640, "height": 480} for i in img_ids],
        "annotations": anns,
        "categories": [{"id": c, "name": f"c{c}"} for c in cat_ids],
    }
    return gt, dts


def to_samples(gt: dict[str, Any], dt: list[dict[str, Any]]) -> list[tuple]:
    """The same data as ``evaluate_detections`` samples (xyxy boxes, string labels), image-id order."""
    samples = []
    for im in sorted(i["id"] for i in gt["images"]):
        g = [a for a in gt["annotations"] if a["image_id"] == im]
        d = [r for r in dt if r["image_id"] == im]

        def xyxy(b: list[float]) -> list[float]:
            return [b[0], b[1], b[0] + b[2], b[1] + b[3]]

        samples.append(
            (
                np.array([xyxy(a["bbox"]) for a in g]).reshape(-1, 4),
                [f"c{a['category_id']}" for a in g],
                np.array([xyxy(r["bbox"]) for r in d]).reshape(-1, 4),
                np.array([r["score"] for r in d]),
                [f"c{r['category_id']}" for r in d],
            )
        )
    return samples
