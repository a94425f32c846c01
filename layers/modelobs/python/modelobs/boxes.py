"""Box geometry: one box convention inside the system, converters at the edges.

Inside modelobs every box is ``[x1, y1, x2, y2]`` in pixels of the original
image (x to the right, y down, ``x2 >= x1``, ``y2 >= y1``). Other
conventions exist only where data enters or leaves: COCO files and
pycocotools use ``[x, y, w, h]``, Labelbox uses ``{top, left, height,
width}``. Converting at the edges, in one module, keeps a swapped axis from
hiding in a metric: a wrong conversion shows up as a failing test here, not
as a quietly lower IoU in production.

Pure numpy, no other dependency: this module ships in the Lambda layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_boxes",
    "iou_matrix",
    "xyxy_to_xywh",
    "xywh_to_xyxy",
    "labelbox_bbox_to_xyxy",
    "xyxy_to_labelbox_bbox",
]


def as_boxes(boxes: ArrayLike) -> NDArray[np.float64]:
    """Return ``boxes`` as a float64 ``(N, 4)`` array.

    Accepts anything array-like, including an empty list (a frame with no
    detections is an empty list in JSON, which numpy would read as shape
    ``(0,)``); anything else that is not ``(N, 4)`` is a caller bug and
    raises ``ValueError`` rather than broadcasting into a wrong answer.
    """
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {arr.shape}")
    return arr


def iou_matrix(a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
    """Intersection over union of every box in ``a`` with every box in ``b``.

    ``a`` is ``(N, 4)`` and ``b`` is ``(M, 4)``, both ``[x1, y1, x2, y2]``;
    the result is ``(N, M)``. Computed by broadcasting, with no Python loop,
    because the evaluator calls it for every reviewed image.

    Boxes that do not overlap, or only touch along an edge, have IoU 0.
    Two degenerate (zero-area) boxes have a union of 0; their IoU is defined
    as 0 rather than NaN so that a malformed box can never count as a match.
    """
    a = as_boxes(a)
    b = as_boxes(b)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0.0, None) * np.clip(iy2 - iy1, 0.0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0.0, None) * np.clip(a[:, 3] - a[:, 1], 0.0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0.0, None) * np.clip(b[:, 3] - b[:, 1], 0.0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def xyxy_to_xywh(boxes: ArrayLike) -> NDArray[np.float64]:
    """``[x1, y1, x2, y2]`` -> COCO ``[x, y, w, h]``; shape ``(..., 4)`` is kept."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.shape[-1:] != (4,):
        raise ValueError(f"boxes must end in a dimension of 4, got {b.shape}")
    out = b.copy()
    out[..., 2] = b[..., 2] - b[..., 0]
    out[..., 3] = b[..., 3] - b[..., 1]
    return out


def xywh_to_xyxy(boxes: ArrayLike) -> NDArray[np.float64]:
    """COCO ``[x, y, w, h]`` -> ``[x1, y1, x2, y2]``; shape ``(..., 4)`` is kept."""
    b = np.asarray(boxes, dtype=np.float64)
    if b.shape[-1:] != (4,):
        raise ValueError(f"boxes must end in a dimension of 4, got {b.shape}")
    out = b.copy()
    out[..., 2] = b[..., 0] + b[..., 2]
    out[..., 3] = b[..., 1] + b[..., 3]
    return out


def labelbox_bbox_to_xyxy(bbox: Mapping[str, Any]) -> list[float]:
    """Labelbox ``{"top", "left", "height", "width"}`` -> ``[x1, y1, x2, y2]``.

    Labelbox names the axes by edge (``left`` is x, ``top`` is y), the
    opposite order to ours, which is exactly the swap this function exists
    to get right once. Missing keys raise ``KeyError`` naming the key.
    """
    left = float(bbox["left"])
    top = float(bbox["top"])
    return [left, top, left + float(bbox["width"]), top + float(bbox["height"])]


def xyxy_to_labelbox_bbox(box: ArrayLike) -> dict[str, float]:
    """``[x1, y1, x2, y2]`` -> Labelbox ``{"top", "left", "height", "width"}``.

    Used for model-assisted pre-labels; plain floats so the dict
    JSON-serializes as is.
    """
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    return {"top": y1, "left": x1, "height": y2 - y1, "width": x2 - x1}
