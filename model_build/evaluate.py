"""Held-out evaluation of a ``.tflite`` detector exactly as it will be served.

Runs the TFLite interpreter on ``modelobs.preprocess.to_model_input`` of
each image and decodes with ``modelobs.postprocess.decode``: the same code
path as production, so the card's numbers are the served model's numbers.
AP comes from ``modelobs.coco_eval`` (pycocotools' numbers) and matching
from ``modelobs.matching``, the evaluator the live metrics use. No
TensorFlow here: the main venv's tests import this too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from modelobs.coco_eval import evaluate_detections
from modelobs.matching import match_detections
from modelobs.postprocess import decode
from modelobs.preprocess import to_model_input
from PIL import Image

from .dataset import Sample


def interpreter_class() -> type:
    """``ai_edge_litert`` where installed (what Lambda runs), else TensorFlow's own ``tf.lite``."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter


@dataclass
class Predictions:
    """Per-image detections in original pixels, plus the bare ``invoke()`` latency of each."""

    boxes: list[np.ndarray]
    scores: list[np.ndarray]
    labels: list[list[str]]
    invoke_ms: list[float]

    @property
    def p50_ms(self) -> float:
        return float(np.percentile(self.invoke_ms, 50)) if self.invoke_ms else float("nan")


def predict_tflite(model_path: str | Path, samples: Sequence[Sample], classes: Sequence[str],
                   score_floor: float = 0.05, threads: int = 1) -> Predictions:
    """Run the model at ``model_path`` on every sample; boxes come back in each image's pixels."""
    interp = interpreter_class()(model_path=str(model_path), num_threads=threads)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    (out,) = interp.get_output_details()
    preds = Predictions([], [], [], [])
    for sample in samples:
        x = to_model_input(Image.fromarray(sample.image, "RGB"))[None]
        interp.set_tensor(inp["index"], x.astype(inp["dtype"]))
        t0 = time.perf_counter()
        interp.invoke()
        preds.invoke_ms.append((time.perf_counter() - t0) * 1000.0)
        raw = decode(interp.get_tensor(out["index"]), num_classes=len(classes), score_floor=score_floor)
        scale = np.array([sample.width, sample.height, sample.width, sample.height], dtype=np.float32)
        preds.boxes.append(raw.boxes * scale)
        preds.scores.append(raw.scores)
        preds.labels.append([classes[int(c)] for c in raw.class_ids])
    return preds


def best_f1_threshold(samples: Sequence[Sample], preds: Predictions, iou: float = 0.5,
                      floor: float = 0.05) -> dict[str, float]:
    """The score threshold with the highest F1 at IoU ``iou``, and its precision and recall.

    Greedy matching goes by descending score, so the detections above any
    threshold make the same matches they make in the full list: one
    matching per image, then a sweep over thresholds.
    """
    tp_scores: list[float] = []
    all_scores: list[float] = []
    n_gt = 0
    for s, b, sc, lb in zip(samples, preds.boxes, preds.scores, preds.labels, strict=True):
        n_gt += len(s.boxes)
        all_scores.extend(float(v) for v in sc)
        tp_scores.extend(p.score for p in match_detections(s.boxes, s.labels, b, sc, lb, iou))
    if not all_scores:
        return {"threshold": 0.5, "f1": 0.0, "precision": 0.0, "recall": 0.0}
    tp_sorted = np.sort(np.asarray(tp_scores))
    all_sorted = np.sort(np.asarray(all_scores))
    best = {"threshold": 0.5, "f1": -1.0, "precision": 0.0, "recall": 0.0}
    for t in np.unique(np.round(all_sorted, 3)):
        if t < floor:
            continue
        tp = len(tp_sorted) - np.searchsorted(tp_sorted, t, side="left")
        nd = len(all_sorted) - np.searchsorted(all_sorted, t, side="left")
        f1 = 2 * tp / (nd + n_gt) if nd + n_gt else 0.0
        if f1 > best["f1"]:
            best = {"threshold": float(t), "f1": float(f1), "precision": float(tp / nd) if nd else 0.0,
                    "recall": float(tp / n_gt) if n_gt else 0.0}
    return best


def metrics(samples: Sequence[Sample], preds: Predictions, threshold: float | None = None) -> dict[str, Any]:
    """AP50, AP (COCO), mean IoU of matches at IoU 0.5, and precision/recall/F1 at ``threshold``.

    With no ``threshold`` the max-F1 one is chosen: that is how the card's
    operating threshold is picked.
    """
    stats = evaluate_detections(
        (s.boxes, s.labels, b, sc, lb)
        for s, b, sc, lb in zip(samples, preds.boxes, preds.scores, preds.labels, strict=True)
    )
    op = best_f1_threshold(samples, preds)
    if threshold is not None:
        op = _at_threshold(samples, preds, threshold)
    ious: list[float] = []
    for s, b, sc, lb in zip(samples, preds.boxes, preds.scores, preds.labels, strict=True):
        keep = sc >= op["threshold"]
        ious.extend(p.iou for p in match_detections(s.boxes, s.labels, b[keep], sc[keep], [l for l, k in zip(lb, keep) if k]))
    return {
        "AP50": round(float(stats["AP50"]), 4),
        "AP": round(float(stats["AP"]), 4),
        "AP75": round(float(stats["AP75"]), 4),
        "mean_iou": round(float(np.mean(ious)), 4) if ious else None,
        "threshold": round(op["threshold"], 3),
        "precision": round(op["precision"], 4),
        "recall": round(op["recall"], 4),
        "f1": round(op["f1"], 4),
        "images": len(samples),
        "boxes": int(sum(len(s.boxes) for s in samples)),
    }


def _at_threshold(samples: Sequence[Sample], preds: Predictions, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 at a given score threshold (IoU 0.5)."""
    tp = nd = n_gt = 0
    for s, b, sc, lb in zip(samples, preds.boxes, preds.scores, preds.labels, strict=True):
        keep = sc >= threshold
        nd += int(keep.sum())
        n_gt += len(s.boxes)
        tp += len(match_detections(s.boxes, s.labels, b[keep], sc[keep], [l for l, k in zip(lb, keep) if k]))
    return {
        "threshold": float(threshold),
        "precision": tp / nd if nd else 0.0,
        "recall": tp / n_gt if n_gt else 0.0,
        "f1": 2 * tp / (nd + n_gt) if nd + n_gt else 0.0,
    }
