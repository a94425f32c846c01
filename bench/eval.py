"""``eval-coco``'s library path against pycocotools on the same data, in one run.

5,000 images with ~10 ground-truth boxes (5 categories, all three COCO
size ranges) and ~10-15 detections each: jittered copies of most ground
truth (so many IoUs sit between the thresholds), some duplicates, some
false positives, scores with ties. Both sides start from the same
in-memory JSON objects, as the CLI has them after ``json.load``: ours is
``coco_eval(gt, dt)``; pycocotools' is ``COCO`` + ``loadRes`` +
``evaluate`` + ``accumulate`` + ``summarize`` (its printing silenced).
The two alternate for ``--repeats`` rounds so that load on a shared machine
hits both alike; medians are reported, with the time ratio and the largest
absolute difference of the 12 stats over all rounds.

    .venv/bin/python bench/eval.py [--images 5000] [--repeats 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "modelobs" / "python"))

from modelobs.coco_eval import STAT_NAMES, coco_eval  # noqa: E402


def make_data(n_img: int, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    n_cat = 5
    images, anns, dts = [], [], []
    for im in range(1, n_img + 1):
        images.append({"id": im, "width": 640, "height": 480})
        n_gt = int(rng.poisson(10))
        side = np.exp(rng.uniform(np.log(8), np.log(300), n_gt))  # small, medium and large
        aspect = np.exp(rng.uniform(-0.7, 0.7, n_gt))
        w, h = side * np.sqrt(aspect), side / np.sqrt(aspect)
        x, y = rng.uniform(0, 640 - w.clip(max=600)), rng.uniform(0, 480 - h.clip(max=440))
        cats = rng.integers(1, n_cat + 1, n_gt)
        for j in range(n_gt):
            anns.append({
                "id": len(anns) + 1, "image_id": im, "category_id": int(cats[j]),
                "bbox": [float(x[j]), float(y[j]), float(w[j]), float(h[j])],
                "area": float(w[j] * h[j]), "iscrowd": 0,
            })  # fmt: skip
        n_dt = int(rng.integers(10, 16))
        for _ in range(n_dt):
            if n_gt and rng.random() < 0.8:
                j = int(rng.integers(n_gt))
                s = 0.06 * min(w[j], h[j])
                b = [x[j] + rng.normal(0, s), y[j] + rng.normal(0, s),
                     abs(w[j] + rng.normal(0, s)) + 1, abs(h[j] + rng.normal(0, s)) + 1]  # fmt: skip
                cat = int(cats[j]) if rng.random() < 0.9 else int(rng.integers(1, n_cat + 1))
            else:
                ww, hh = np.exp(rng.uniform(np.log(8), np.log(200), 2))
                b = [rng.uniform(0, 600), rng.uniform(0, 440), ww, hh]
                cat = int(rng.integers(1, n_cat + 1))
            score = float(np.round(rng.random(), 3))  # 3 decimals: ties happen
            dts.append({"image_id": im, "category_id": cat, "bbox": [float(v) for v in b], "score": score})
    gt = {"images": images, "annotations": anns, "categories": [{"id": c, "name": f"c{c}"} for c in range(1, n_cat + 1)]}
    return gt, dts


def run_pycocotools(gt: dict[str, Any], dt: list[dict[str, Any]]) -> dict[str, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(dt), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(STAT_NAMES, (float(v) for v in ev.stats), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    gt, dt = make_data(args.images, args.seed)
    print(f"{args.images} images, {len(gt['annotations'])} ground-truth boxes, {len(dt)} detections, "
          f"{len(gt['categories'])} categories; {args.repeats} rounds")  # fmt: skip

    ours_t, ref_t, worst = [], [], 0.0
    ours = ref = {}
    for _ in range(args.repeats):
        # pycocotools adds keys to what it is given: each round gets fresh copies, made untimed.
        gt_ref, dt_ref = copy.deepcopy(gt), copy.deepcopy(dt)
        t0 = time.perf_counter()
        ours = coco_eval(gt, dt)
        t1 = time.perf_counter()
        ref = run_pycocotools(gt_ref, dt_ref)
        t2 = time.perf_counter()
        ours_t.append(t1 - t0)
        ref_t.append(t2 - t1)
        worst = max(worst, max(abs(ours[k] - ref[k]) for k in STAT_NAMES))

    print(f"\n{'stat':<7}{'modelobs':>20}{'pycocotools':>20}{'|diff|':>10}")
    for k in STAT_NAMES:
        print(f"{k:<7}{ours[k]:>20.16f}{ref[k]:>20.16f}{abs(ours[k] - ref[k]):>10.1e}")
    m_ours, m_ref = statistics.median(ours_t), statistics.median(ref_t)
    print(f"\nmodelobs coco_eval : median {m_ours:7.3f} s  (rounds: {', '.join(f'{t:.3f}' for t in ours_t)})")
    print(f"pycocotools        : median {m_ref:7.3f} s  (rounds: {', '.join(f'{t:.3f}' for t in ref_t)})")
    print(f"speed-up           : {m_ref / m_ours:.1f}x   (target >= 5x)")
    print(f"max |diff| of the 12 stats over all rounds: {worst:.3g}   (target 0, <= 1e-12)")


if __name__ == "__main__":
    main()
