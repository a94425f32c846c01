"""Decoding the CenterNet output: peaks, offsets, sizes, NMS."""

from __future__ import annotations

import numpy as np
from modelobs.postprocess import decode, nms


def blank(grid: int = 20, classes: int = 1) -> np.ndarray:
    return np.zeros((grid, grid, classes + 4), np.float32)


def put(out: np.ndarray, y: int, x: int, score: float, dx: float, dy: float, w: float, h: float, cls: int = 0):
    c = out.shape[-1] - 4
    out[y, x, cls] = score
    out[y, x, c:] = (dx, dy, w, h)


def test_a_peak_becomes_a_box_at_its_cell_plus_offset():
    out = blank()
    put(out, 10, 4, 0.9, 0.5, 0.25, 0.2, 0.1)
    found = decode(out, 1)
    assert len(found.scores) == 1
    cx, cy = (4 + 0.5) / 20, (10 + 0.25) / 20
    np.testing.assert_allclose(found.boxes[0], [cx - 0.1, cy - 0.05, cx + 0.1, cy + 0.05], atol=1e-6)
    assert found.scores[0] == np.float32(0.9)


def test_only_local_maxima_above_the_floor_are_kept_best_first():
    out = blank()
    put(out, 5, 5, 0.8, 0.5, 0.5, 0.1, 0.1)
    out[5, 6, 0] = 0.6  # a shoulder of the same peak, not a maximum
    put(out, 15, 15, 0.3, 0.5, 0.5, 0.1, 0.1)
    put(out, 1, 18, 0.01, 0.5, 0.5, 0.1, 0.1)  # below the floor
    found = decode(out, 1, score_floor=0.05)
    np.testing.assert_allclose(found.scores, [0.8, 0.3])


def test_boxes_are_clipped_to_the_input():
    out = blank()
    put(out, 0, 0, 0.9, 0.0, 0.0, 0.5, 0.5)
    box = decode(out, 1).boxes[0]
    assert box.min() >= 0 and box.max() <= 1


def test_classes_are_kept_apart_and_reported():
    out = blank(classes=2)
    put(out, 3, 3, 0.9, 0.5, 0.5, 0.2, 0.2, cls=0)
    put(out, 3, 3, 0.7, 0.5, 0.5, 0.2, 0.2, cls=1)
    found = decode(out, 2)
    assert sorted(found.class_ids.tolist()) == [0, 1]


def test_max_detections_caps_the_output():
    rng = np.random.default_rng(0)
    out = blank()
    out[..., 0] = rng.uniform(0.1, 1.0, (20, 20))
    out[..., 3:5] = 0.05
    assert len(decode(out, 1, max_detections=7).scores) == 7


def test_nms_drops_overlaps_and_keeps_the_best():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.5, 0.9, 0.4], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.9).tolist() == [1, 0, 2]


def _reference_nms(boxes, scores, thr):
    """Textbook greedy NMS, one pair at a time."""
    def iou(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    order, keep = list(np.argsort(-scores, kind="stable")), []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        order = [j for j in order if iou(boxes[i], boxes[j]) <= thr]
    return keep


def test_nms_matches_the_textbook_algorithm_on_random_sets():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(0, 60))
        xy = rng.uniform(0, 1, (n, 2))
        boxes = np.hstack([xy, xy + rng.uniform(0.01, 0.4, (n, 2))]).astype(np.float32)
        scores = np.round(rng.uniform(0, 1, n), 2).astype(np.float32)  # ties included
        assert nms(boxes, scores, 0.5).tolist() == _reference_nms(boxes, scores, 0.5)
