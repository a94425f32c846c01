"""TensorFlow (the original project served a full TF model) vs TFLite, the same detector, one run.

Run by bench/inference.py in the training venv (it alone has TensorFlow):

    .venv-train/bin/python bench/tf_vs_tflite.py --rounds 100

Both take the same 320x320 input; calls alternate so machine noise hits both.
TF is timed two ways: a traced ``tf.function`` on one image (the best TF
serving does on a CPU) and ``model.predict`` per request (what a naive server
calls, with Keras's per-call overhead).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--keras", type=Path, default=ROOT / "artifacts" / "train" / "detector.keras")
    args = parser.parse_args()
    if not args.keras.exists():
        print(f"TF comparison skipped: {args.keras} not found (`make train` writes it)")
        return 0

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)  # before any op runs; TFLite gets 1 thread too
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from modelobs.model_card import load_card

    import model_build.model  # noqa: F401  (registers the model's custom layers, if any)

    model = tf.keras.models.load_model(args.keras, compile=False)
    serve = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    card = load_card(ROOT / "layers" / "model" / "model", "float32")
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    lite = Interpreter(model_path=str(card.path), num_threads=1)
    lite.allocate_tensors()
    (inp,), (out,) = lite.get_input_details(), lite.get_output_details()

    x = np.random.default_rng(0).uniform(0, 255, (1, 320, 320, 3)).astype(np.float32)
    for _ in range(5):
        serve(x)
        lite.set_tensor(inp["index"], x)
        lite.invoke()
    t_tf, t_lite = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        serve(x).numpy()
        t1 = time.perf_counter()
        lite.set_tensor(inp["index"], x)
        lite.invoke()
        lite.get_tensor(out["index"])
        t2 = time.perf_counter()
        t_tf.append(t1 - t0)
        t_lite.append(t2 - t1)
    t_predict = []
    for _ in range(max(10, args.rounds // 5)):  # the Keras call a naive server makes per request
        t0 = time.perf_counter()
        model.predict(x, verbose=0)
        t_predict.append(time.perf_counter() - t0)
    tf50, lite50, pred50 = (float(np.median(t)) * 1e3 for t in (t_tf, t_lite, t_predict))
    print(f"TensorFlow {tf.__version__}, 1 thread: tf.function p50 {tf50:.2f} ms, model.predict p50 {pred50:.2f} ms; "
          f"TFLite float32 p50 {lite50:.2f} ms")
    print(f"TFLite vs TF: {tf50 / lite50:.1f}x faster than tf.function, {pred50 / lite50:.1f}x faster than model.predict")
    return 0


if __name__ == "__main__":
    sys.exit(main())
