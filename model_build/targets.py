"""Encode ground-truth boxes as the CenterNet training targets; the inverse of ``modelobs.postprocess.decode``.

Kept in numpy (no TensorFlow) so the encoding can be unit-tested in the
main venv against the very decoder that serves the model: encode then
decode must give the boxes back.

Target layout per grid cell, ``(G, G, C + 5)``:
``[..., :C]`` Gaussian-splatted centre heatmap (1 at the centre cell),
``[..., C:C+2]`` centre offset ``(dx, dy)`` in cell units,
``[..., C+2:C+4]`` box size ``(w, h)`` as fractions of the input side,
``[..., C+4]`` 1 where a centre is (where offset and size are supervised).
"""

from __future__ import annotations

import numpy as np
from modelobs.preprocess import INPUT_SIZE

#: Output grid side: stride 16 of the 320-pixel input.
GRID = 20
STRIDE = INPUT_SIZE // GRID


def gaussian_radius(h: float, w: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius (in cells) within which a shifted box still overlaps the true one by ``min_overlap``.

    Cells that close to the centre are penalised less in the focal loss:
    predicting them is nearly right, and punishing them fully would teach
    the model to hedge.
    """
    a1, b1 = 1.0, h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4.0, 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + np.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + np.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return float(max(0.0, min(r1, r2, r3)))


def encode(boxes_input: np.ndarray, class_ids: np.ndarray, num_classes: int, grid: int = GRID,
           input_size: int = INPUT_SIZE) -> np.ndarray:
    """Targets ``(grid, grid, num_classes + 5)`` float32 for boxes in model-input pixels ``[x1, y1, x2, y2]``.

    Where two centres fall in one cell the smaller box wins the offset/size
    slot (drawn last): a large object still has neighbouring cells near
    its centre, a small one has only that cell.
    """
    out = np.zeros((grid, grid, num_classes + 5), dtype=np.float32)
    boxes = np.asarray(boxes_input, dtype=np.float32).reshape(-1, 4)
    if boxes.size == 0:
        return out
    stride = input_size / grid
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    ys, xs = np.mgrid[0:grid, 0:grid].astype(np.float32)
    for i in np.argsort(-areas, kind="stable"):
        x1, y1, x2, y2 = boxes[i]
        w, h = x2 - x1, y2 - y1
        if w <= 0 or h <= 0:
            continue
        cx, cy = (x1 + x2) / 2 / stride, (y1 + y2) / 2 / stride
        ix, iy = min(int(cx), grid - 1), min(int(cy), grid - 1)
        radius = max(0.0, gaussian_radius(h / stride, w / stride))
        sigma = (2 * radius + 1) / 6
        g = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma * sigma))
        c = int(class_ids[i])
        np.maximum(out[..., c], g, out=out[..., c])
        out[iy, ix, c] = 1.0
        out[iy, ix, num_classes : num_classes + 4] = [cx - ix, cy - iy, w / input_size, h / input_size]
        out[iy, ix, num_classes + 4] = 1.0
    return out


def flip_horizontal(image: np.ndarray, target: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Mirror an input image and its targets left-right (numpy reference for the TF augmentation)."""
    img = image[:, ::-1]
    t = target[:, ::-1].copy()
    mask = t[..., num_classes + 4] > 0
    t[..., num_classes][mask] = 1.0 - t[..., num_classes][mask]
    return img, t
