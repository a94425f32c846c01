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
    """Greedy non-maximum suppression; returns kept indices, highest score first."""
    order = np.argsort(-scores, kind="stable")
    if order.size <= 1:
        return order
    x1, y1, x2, y2 = boxes.T
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = areas[i] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


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
    w = np.clip(out[ys, xs, num_classes + 2], 0.0, 1.0)
    h = np.clip(out[ys, xs, num_classes + 3], 0.0, 1.0)
    cx = (xs + np.clip(dx, 0.0, 1.0)) / grid_w
    cy = (ys + np.clip(dy, 0.0, 1.0)) / grid_h
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    boxes = np.clip(boxes, 0.0, 1.0)

    kept: list[np.ndarray] = []
    for c in np.unique(cls):
        idx = np.flatnonzero(cls == c)
        kept.append(idx[nms(boxes[idx], scores[idx], nms_iou)])
    keep = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    keep = keep[np.argsort(-scores[keep], kind="stable")][:max_detections]
    return RawDetections(boxes[keep], scores[keep].astype(np.float32), cls[keep].astype(np.int64))
