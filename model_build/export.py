"""Export the trained Keras model to TFLite (float32 and int8), evaluate both, write the model card.

    python -m model_build.export                  # re-export artifacts/train/detector.keras
    python -m model_build.export --help

Both variants keep float32 input and output so the serving code and the
contract do not change with the quantization: int8 adds a quantize op in
and a dequantize op out. Each is evaluated on a held-out synthetic set
with the TFLite interpreter and ``modelobs.postprocess.decode`` (the
serving path); the default is the variant with the better AP50; on a tie
(within 0.01) int8 only if clearly faster, else the better AP. The card
records both and why.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from modelobs.preprocess import INPUT_SIZE

from .evaluate import metrics, predict_tflite
from .synthetic import generate, parse_difficulty
from .targets import GRID, STRIDE
from .training_data import Arrays

CARD_NAME = "detector.json"
MODEL_NAME = "animal-detector"
SCORE_FLOOR = 0.05
#: Held-out images come from seeds training never uses (training uses --seed, default 0).
HELDOUT_SEED = 1_000_001
BY_DIFFICULTY_SEED = 1_000_002
#: AP50 within this of each other counts as a tie, broken by latency.
AP50_TIE = 0.01
#: int8 must be at least this much faster to win a tie (timing noise on a shared CPU is a few percent).
INT8_SPEEDUP = 0.15


def to_tflite(model: Any, calibration: np.ndarray | None = None) -> bytes:
    """Convert with a fixed (1, 320, 320, 3) float32 input; with ``calibration`` images, int8 weights and activations."""
    import tensorflow as tf
    from tensorflow import keras

    # A batch-1 wrapper fixes the input shape to the contract's (1, 320, 320, 3).
    inp = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), batch_size=1, name="image")
    fixed = keras.Model(inp, model(inp, training=False), name=model.name)
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    if calibration is not None:

        def representative() -> Iterator[list[np.ndarray]]:
            for img in calibration:
                yield [img[None].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # inference_input_type / inference_output_type stay float32: same interface as the float model.
    return converter.convert()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def choose_default(variants: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The variant to serve and why.

    Better AP50 wins. Within ``AP50_TIE`` int8 wins only if it is clearly
    faster (p50 at most ``1 - INT8_SPEEDUP`` of float32's, more than timing
    noise); otherwise the better COCO AP (box quality) wins, which is
    usually float32: int8 rounds the size and offset channels.
    """
    f, q = variants["float32"], variants["int8"]
    fa, qa = f["metrics"]["AP50"], q["metrics"]["AP50"]
    timing = f"p50 invoke float32 {f['p50_ms']:.2f} ms, int8 {q['p50_ms']:.2f} ms, 1 thread"
    if abs(fa - qa) > AP50_TIE:
        name = "float32" if fa > qa else "int8"
        return name, f"{name} has the better held-out AP50 (float32 {fa:.3f}, int8 {qa:.3f}); {timing}"
    if q["p50_ms"] <= (1 - INT8_SPEEDUP) * f["p50_ms"]:
        return "int8", f"AP50 within {AP50_TIE} (float32 {fa:.3f}, int8 {qa:.3f}) and int8 is clearly faster: {timing}"
    fap, qap = f["metrics"]["AP"], q["metrics"]["AP"]
    name = "float32" if fap >= qap else "int8"
    return name, (f"AP50 within {AP50_TIE} (float32 {fa:.3f}, int8 {qa:.3f}) and no clear speed difference "
                  f"({timing}); {name} has the better AP (float32 {fap:.3f}, int8 {qap:.3f}), i.e. tighter boxes")


def export_all(model: Any, data: Arrays, args: argparse.Namespace, train_log: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write both .tflite variants and ``detector.json`` into ``args.out``; return the card."""
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    classes = list(data.classes)
    rng = np.random.default_rng(args.seed)
    calib = data.x[rng.choice(len(data.x), size=min(200, len(data.x)), replace=False)]
    files = {"float32": out / "detector-float32.tflite", "int8": out / "detector-int8.tflite"}
    files["float32"].write_bytes(to_tflite(model))
    files["int8"].write_bytes(to_tflite(model, calib))

    progress = not getattr(args, "no_progress", False)
    heldout = list(generate(args.heldout_images, seed=HELDOUT_SEED, difficulty=args.heldout_difficulty))
    variants: dict[str, dict[str, Any]] = {}
    for name, path in files.items():
        preds = predict_tflite(path, heldout, classes, score_floor=SCORE_FLOOR, threads=1)
        m = metrics(heldout, preds)
        variants[name] = {
            "file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
            "metrics": m, "p50_ms": round(preds.p50_ms, 3),
        }
        if progress:
            print(f"{name}: {json.dumps(m)} p50 {preds.p50_ms:.2f} ms", file=sys.stderr)
    default, why = choose_default(variants)
    by_difficulty: dict[str, dict[str, Any]] = {}
    if args.by_difficulty_images:
        for d in (0.0, 0.5, 1.0):
            samples = list(generate(args.by_difficulty_images, seed=BY_DIFFICULTY_SEED, difficulty=d))
            preds = predict_tflite(files[default], samples, classes, score_floor=SCORE_FLOOR)
            m = metrics(samples, preds, threshold=variants[default]["metrics"]["threshold"])
            by_difficulty[f"{d:.1f}"] = {k: m[k] for k in ("AP50", "AP", "mean_iou", "precision", "recall", "images", "boxes")}
            if progress:
                print(f"difficulty {d:.1f}: {json.dumps(by_difficulty[f'{d:.1f}'])}", file=sys.stderr)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    chosen = variants[default]
    card: dict[str, Any] = {
        "schema": 1,
        "name": MODEL_NAME,
        "version": args.version or f"1.0.0+{now:%Y%m%d.%H%M}",
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "file": chosen["file"],
        "sha256": chosen["sha256"],
        "quantization": default,
        "selection": why,
        "variants": variants,
        "input": {"size": INPUT_SIZE, "channels": 3, "dtype": "float32", "range": [0, 255], "resize": "stretch",
                  "layout": "NHWC RGB, modelobs.preprocess.to_model_input"},
        "output": {"grid": GRID, "stride": STRIDE, "layout": "[..., :C] heatmap (sigmoid); [..., C:C+2] centre offset dx, dy "
                   "(cell units); [..., C+2:C+4] size w, h (fraction of input); decode with modelobs.postprocess.decode"},
        "classes": classes,
        "score_floor": SCORE_FLOOR,
        "operating_threshold": chosen["metrics"]["threshold"],
        "training_data": (train_log or {}).get("data", data.summary),
        "training": {k: v for k, v in (train_log or {}).items() if k not in ("history", "data")},
        "metrics": {
            **chosen["metrics"],
            "heldout": {"source": "synthetic", "seed": HELDOUT_SEED, "difficulty": _difficulty_json(args.heldout_difficulty),
                        "iou_threshold": 0.5, "threshold_rule": "max F1 at IoU 0.5"},
        },
        "metrics_by_difficulty": by_difficulty,
    }
    (out / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n")
    return card


def _difficulty_json(d: float | tuple[float, float]) -> list[float]:
    return list(d) if isinstance(d, tuple) else [d, d]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: re-export a saved Keras model (from ``make train``) without training again."""
    ap = argparse.ArgumentParser(prog="python -m model_build.export", description=main.__doc__,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--keras", type=Path, default=Path("artifacts/train/detector.keras"), help="saved Keras model")
    ap.add_argument("--out", type=Path, default=Path("layers/model/model"))
    ap.add_argument("--seed", type=int, default=0, help="training-set seed (calibration images come from it)")
    ap.add_argument("--classes", nargs="+", default=["animal"])
    ap.add_argument("--heldout-images", type=int, default=400)
    ap.add_argument("--heldout-difficulty", type=parse_difficulty, default=(0.0, 0.3))
    ap.add_argument("--by-difficulty-images", type=int, default=150)
    ap.add_argument("--version", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .training_data import synthetic_arrays

    calib = synthetic_arrays(200, args.seed, (0.0, 0.5), args.classes, progress=False)
    import tensorflow as tf

    model = tf.keras.models.load_model(args.keras, compile=False)
    log_path = args.keras.parent / "train_log.json"
    train_log = json.loads(log_path.read_text()) if log_path.is_file() else None
    card = export_all(model, calib, args, train_log)
    print(json.dumps({k: card[k] for k in ("file", "quantization", "operating_threshold", "metrics")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
