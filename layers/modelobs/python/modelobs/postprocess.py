"""Decode the detector's raw output into boxes, in numpy.

The model is CenterNet-style: one output tensor ``(G, G, C + 4)`` over a
``G x G`` grid (stride ``INPUT_SIZE / G`` input pixels). Per cell:

- ``[..., :C]``      per-class centre heatmap, sigmoid probabilities;
- ``[..., C:C+2]``   sub-cell centre offset ``(dx, dy)`` in cell units, 0..1;
- ``[..., C+2:C+4]`` box size ``(w, h)`` as a fraction of the input side.

A single output tensor keeps the contract independent of the order in
which a converter lists outputs. Peaks are local maxima of the heatmap
(3x3); a class-wise NMS then removes the rare duplicate centre.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class RawDetections(NamedTuple):
    """Boxes ``[x1,y1,x2,y2]`` normalised to 0..1 of the input, with scores and class ids, best first."""

    boxes: np.ndarray  # (K, 4) float32
    scores: np.ndarray  # (K,) float32
    class_ids: np.ndarray  # (K,) int64


def _maxpool3x3(heat: np.ndarray) -> np.ndarray:
    """3x3 max filter with edge padding over the first two axes of ``(G, G, C)``."""
    padded = np.pad(heat, ((1, 1), (1, 1), (0, 0)), mode="constant", constant_values=-np.inf)
    g0, g1 = heat.shape[:2]
    out = heat.copy()
    for dy in range(3):
        for dx in range(3):
            np.maximum(out, padded[dy : dy + g0, dx : dx + g1], out=out)
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, highest score first.

    One IoU matrix up front, then a pass over boolean rows: a few hundred
    candidates at most (the decoder caps them), so K x K is cheaper than
    K rounds of array arithmetic.
    """
    order = np.argsort(-scores, kind="stable")
    if order.size <= 1:
        return order
    b = boxes[order]
    areas = np.maximum(b[:, 2] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 1], 0)
    iw = np.maximum(np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]), 0)
    ih = np.maximum(np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1]), 0)
    inter = iw * ih
    union = areas[:, None] + areas[None, :] - inter
    overlaps = inter > iou_threshold * np.maximum(union, np.finfo(np.float32).tiny)
    suppressed = np.zeros(order.size, dtype=bool)
    keep: list[int] = []
    for i in range(order.size):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i]
    return order[np.asarray(keep, dtype=np.int64)]


def decode(
    output: np.ndarray,
    num_classes: int,
    score_floor: float = 0.05,
    max_detections: int = 100,
    nms_iou: float = 0.5,
) -> RawDetections:
    """Turn one ``(G, G, C+4)`` output into at most ``max_detections`` boxes scoring >= ``score_floor``."""
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 4:
        out = out[0]
    grid_h, grid_w, channels = out.shape
    if channels != num_classes + 4:
        raise ValueError(f"model output has {channels} channels, expected {num_classes + 4}")
    heat = out[..., :num_classes]
    peaks = (heat == _maxpool3x3(heat)) & (heat >= score_floor)
    ys, xs, cls = np.nonzero(peaks)
    scores = heat[ys, xs, cls]
    if scores.size > 4 * max_detections:  # keep NMS cheap on a noisy heatmap
        top = np.argpartition(-scores, 4 * max_detections)[: 4 * max_detections]
        ys, xs, cls, scores = ys[top], xs[top], cls[top], scores[top]
    dx = out[ys, xs, num_classes]
    dy = out[ys, xs, num_classes + 1]
    w = np.minimum(np.maximum(out[ys, xs, num_classes + 2], 0.0), 1.0)
    h = np.minimum(np.maximum(out[ys, xs, num_classes + 3], 0.0), 1.0)
    cx = (xs + np.minimum(np.maximum(dx, 0.0), 1.0)) / grid_w
    cy = (ys + np.minimum(np.maximum(dy, 0.0), 1.0)) / grid_h
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    np.minimum(np.maximum(boxes, 0.0, out=boxes), 1.0, out=boxes)

    kept: list[np.ndarray] = []
    for c in np.unique(cls):
        idx = np.flatnonzero(cls == c)
        kept.append(idx[nms(boxes[idx], scores[idx], nms_iou)])
    keep = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    keep = keep[np.argsort(-scores[keep], kind="stable")][:max_detections]
    return RawDetections(boxes[keep], scores[keep].astype(np.float32), cls[keep].astype(np.int64))
