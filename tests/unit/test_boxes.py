"""Box conversions and IoU: the conventions every metric rests on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from modelobs.boxes import (
    iou_matrix,
    labelbox_bbox_to_xyxy,
    xywh_to_xyxy,
    xyxy_to_labelbox_bbox,
    xyxy_to_xywh,
)


def test_iou_by_hand() -> None:
    a = [[0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [10, 0, 20, 10], [20, 20, 30, 30], [2, 2, 4, 4]]
    # identical; half overlap 50/150; touching edge; apart; contained 4/100
    assert iou_matrix(a, b).tolist() == [[1.0, 50 / 150, 0.0, 0.0, 4 / 100]]


def test_iou_matches_a_loop_on_random_boxes() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (60, 2))
    a = np.hstack([xy[:30], xy[:30] + rng.uniform(0, 50, (30, 2))])
    b = np.hstack([xy[30:], xy[30:] + rng.uniform(0, 50, (30, 2))])
    out = iou_matrix(a, b)
    assert out.shape == (30, 30)
    for i in range(30):
        for j in range(30):
            w = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
            h = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
            inter = w * h
            union = (a[i, 2] - a[i, 0]) * (a[i, 3] - a[i, 1]) + (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1]) - inter
            assert out[i, j] == pytest.approx(inter / union, abs=1e-12)
    assert np.allclose(iou_matrix(b, a), out.T)


def test_iou_shapes_with_empty_sides() -> None:
    assert iou_matrix([], [[0, 0, 1, 1]]).shape == (0, 1)
    assert iou_matrix([[0, 0, 1, 1]], np.zeros((0, 4))).shape == (1, 0)
    assert iou_matrix([], []).shape == (0, 0)


def test_degenerate_boxes_never_match() -> None:
    out = iou_matrix([[5, 5, 5, 5]], [[5, 5, 5, 5], [0, 0, 10, 10]])
    assert out.tolist() == [[0.0, 0.0]]


def test_wrong_shape_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        iou_matrix([[0, 0, 1]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError):
        xyxy_to_xywh([1, 2, 3])


def test_xyxy_xywh_round_trip() -> None:
    xyxy = np.array([[10.0, 20.0, 40.0, 80.0], [0.5, 0.25, 1.5, 2.25]])
    xywh = xyxy_to_xywh(xyxy)
    assert xywh.tolist() == [[10, 20, 30, 60], [0.5, 0.25, 1.0, 2.0]]
    assert np.array_equal(xywh_to_xyxy(xywh), xyxy)
    assert xyxy_to_xywh([1, 2, 4, 8]).tolist() == [1, 2, 3, 6]  # a single box keeps its shape
    assert xyxy_to_xywh(np.zeros((0, 4))).shape == (0, 4)


def test_labelbox_axes_are_not_swapped() -> None:
    # Labelbox: top is y, left is x. A wide box (width 100, height 20) on a 640x480 image.
    lb = {"top": 30, "left": 200, "height": 20, "width": 100}
    assert labelbox_bbox_to_xyxy(lb) == [200.0, 30.0, 300.0, 50.0]
    back = xyxy_to_labelbox_bbox(np.array([200.0, 30.0, 300.0, 50.0]))
    assert back == {"top": 30.0, "left": 200.0, "height": 20.0, "width": 100.0}
    assert json.loads(json.dumps(back)) == back  # plain floats
    with pytest.raises(KeyError, match="width"):
        labelbox_bbox_to_xyxy({"top": 1, "left": 1, "height": 1})
