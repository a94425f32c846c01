"""Train the detector (TensorFlow, ``.venv-train`` only) and export it to TFLite with a model card.

    make train                                   # synthetic data, ~3.5 min budget, export to layers/model/model
    python -m model_build.train --help

Training stops at whichever comes first: the time budget (the default, so
a run takes the same wall time on any machine) or the epoch budget. The
learning rate follows a cosine over the budget that is actually binding,
so a short run still ends annealed rather than cut off at a high rate.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .synthetic import parse_difficulty
from .training_data import Arrays, dataset_arrays, synthetic_arrays

DEFAULT_OUT = Path("layers/model/model")
DEFAULT_WORKDIR = Path("artifacts/train")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m model_build.train",
        description="Train the animal detector and export float32 and int8 TFLite models plus the model card.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Data: synthetic by default (made with --seed/--difficulty, cached under the workdir); "
        "--dataset trains on a dataset folder instead, e.g. one made by `make etl` from a Labelbox export. "
        "The held-out set used to pick the operating threshold and fill the card is always synthetic, "
        "from a seed the training set never uses.",
    )
    data = ap.add_argument_group("data")
    data.add_argument("--dataset", type=Path, help="train on this dataset folder (images/ + annotations.jsonl)")
    data.add_argument("--images", type=int, default=6000, help="synthetic training images")
    data.add_argument("--seed", type=int, default=0, help="seed for data, weights and shuffling")
    data.add_argument("--difficulty", type=parse_difficulty, default=(0.0, 0.5),
                      help="synthetic difficulty, a value or a lo:hi range drawn per image")
    data.add_argument("--classes", nargs="+", default=None,
                      help="class names in output order (default: animal for synthetic data, the sorted labels of --dataset)")
    fit = ap.add_argument_group("training")
    fit.add_argument("--time-budget", type=float, default=240.0, help="stop training after this many seconds")
    fit.add_argument("--epochs", type=float, default=100.0, help="stop after this many passes over the data")
    fit.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: no step limit; for smoke tests)")
    fit.add_argument("--batch-size", type=int, default=16)
    fit.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (Adam, warm-up then cosine)")
    fit.add_argument("--width", type=float, default=1.0, help="channel multiplier (1.0 is about 200k parameters)")
    fit.add_argument("--init-from", type=Path, default=None,
                     help="start from the weights of a saved Keras model (e.g. artifacts/train/detector.keras): "
                          "fine-tune the synthetic model on a Labelbox dataset, or continue a run on fresh data")
    fit.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: all cores)")
    out = ap.add_argument_group("output")
    out.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the .tflite files and detector.json")
    out.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="caches, Keras checkpoint, logs")
    out.add_argument("--no-export", action="store_true", help="train only (keeps the Keras model in the workdir)")
    out.add_argument("--heldout-images", type=int, default=400, help="held-out synthetic images for the card")
    out.add_argument("--heldout-difficulty", type=parse_difficulty, default=(0.0, 0.3),
                     help="difficulty of the held-out set the card's headline metrics use")
    out.add_argument("--by-difficulty-images", type=int, default=150,
                     help="images per difficulty (0, 0.5, 1) for the card's degradation curve (0: skip)")
    out.add_argument("--version", default=None, help="model version (default: 1.<yyyymmdd>.<hhmm> UTC)")
    out.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    return ap.parse_args(argv)


def load_training_data(args: argparse.Namespace) -> Arrays:
    """Synthetic arrays (cached) or a dataset folder's arrays."""
    if args.dataset:
        return dataset_arrays(args.dataset, args.classes, progress=not args.no_progress)
    classes = args.classes or ["animal"]
    return synthetic_arrays(args.images, args.seed, args.difficulty, classes,
                            cache_dir=args.workdir / "cache", progress=not args.no_progress)


def lr_at(fraction: float, peak: float, warmup: float = 0.03) -> float:
    """Linear warm-up over the first ``warmup`` of the run, then cosine down to 2% of ``peak``."""
    if fraction < warmup:
        return peak * max(fraction / warmup, 0.05)
    t = min(1.0, (fraction - warmup) / (1 - warmup))
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * t)))


def train(args: argparse.Namespace, data: Arrays) -> tuple[Any, dict[str, Any]]:
    """Fit the model on ``data`` within the budgets; return the Keras model and a training log."""
    import tensorflow as tf

    from .model import build_model, detection_loss

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.keras.utils.set_random_seed(args.seed)
    num_classes = len(data.classes)
    model = build_model(num_classes, args.width)
    previous: dict[str, Any] | None = None
    if args.init_from:
        model.set_weights(tf.keras.models.load_model(args.init_from, compile=False).get_weights())
        log_path = Path(args.init_from).parent / "train_log.json"
        previous = json.loads(log_path.read_text()) if log_path.is_file() else {}
        previous = {"model": str(args.init_from), **{k: previous[k] for k in ("data", "steps", "seconds") if k in previous}}
    n = len(data.x)
    batch = min(args.batch_size, n)
    steps_per_epoch = max(1, n // batch)
    max_steps = int(math.ceil(args.epochs * steps_per_epoch))
    if args.steps:
        max_steps = min(max_steps, args.steps)

    rng = np.random.default_rng(args.seed)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Shuffled batches, half of them mirrored left-right (animals face both ways).

        Plain numpy gathers on the uint8 arrays: a tf.data map per image cost
        as much CPU as the training step on two cores.
        """
        while True:
            order = rng.permutation(n)
            for b in range(steps_per_epoch):
                idx = np.sort(order[b * batch : (b + 1) * batch])
                x, y = data.x[idx], data.y[idx]
                flip = rng.random(len(idx)) < 0.5
                if flip.any():
                    x[flip] = x[flip, :, ::-1]
                    yf = y[flip, :, ::-1]
                    mask = yf[..., num_classes + 4] > 0
                    yf[..., num_classes] = np.where(mask, 1.0 - yf[..., num_classes], yf[..., num_classes])
                    y[flip] = yf
                yield x, y

    optimizer = tf.keras.optimizers.Adam(learning_rate=args.lr)

    @tf.function(input_signature=[
        tf.TensorSpec([batch, *data.x.shape[1:]], tf.uint8), tf.TensorSpec([batch, *data.y.shape[1:]], tf.float32),
    ])
    def step(x: tf.Tensor, y: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            pred = model(tf.cast(x, tf.float32), training=True)
            losses = detection_loss(y, pred, num_classes)
        grads = tape.gradient(losses["loss"], model.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 10.0)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return losses

    bar = _progress(max_steps, args.no_progress)
    start = time.monotonic()
    history: list[dict[str, float]] = []
    ema: dict[str, float] = {}
    steps_done = 0
    stop_reason = "epoch budget"
    for x, y in batches():
        elapsed = time.monotonic() - start
        frac = max(steps_done / max_steps, elapsed / args.time_budget)
        if frac >= 1.0:
            stop_reason = "time budget" if elapsed >= args.time_budget else ("step budget" if args.steps and steps_done >= args.steps else "epoch budget")
            break
        optimizer.learning_rate.assign(lr_at(frac, args.lr))
        losses = {k: float(v) for k, v in step(x, y).items()}
        steps_done += 1
        ema = {k: v if k not in ema else 0.95 * ema[k] + 0.05 * v for k, v in losses.items()}
        if steps_done % 20 == 0 or steps_done == 1:
            history.append({"step": steps_done, "t": round(elapsed, 1), **{k: round(v, 4) for k, v in ema.items()}})
        bar.set_postfix(loss=f"{ema['loss']:.3f}", heat=f"{ema['heat']:.3f}", size=f"{ema['size']:.3f}",
                        epoch=f"{steps_done / steps_per_epoch:.1f}", refresh=False)
        bar.update(1)
        # Re-aim the bar at the binding budget once the step time is known.
        if steps_done in (20, 60):
            per_step = (time.monotonic() - start) / steps_done
            bar.total = min(max_steps, int(args.time_budget / per_step) + 1)
    bar.close()
    seconds = time.monotonic() - start
    recalibrate_batch_norm(model, data.x, rng)
    log = {
        "steps": steps_done,
        "epochs": round(steps_done / steps_per_epoch, 2),
        "seconds": round(seconds, 1),
        "stopped_by": stop_reason,
        "batch_size": batch,
        "peak_lr": args.lr,
        "params": int(model.count_params()),
        "final_loss": {k: round(v, 4) for k, v in ema.items()},
        "init_from": previous,
        "history": history,
    }
    print(f"trained {steps_done} steps ({log['epochs']} epochs) in {seconds:.0f}s, stopped by {stop_reason}; "
          f"loss {ema.get('loss', float('nan')):.3f}", file=sys.stderr)
    return model, log


def recalibrate_batch_norm(model: Any, x: np.ndarray, rng: np.random.Generator, batches: int = 40,
                           batch: int = 32) -> None:
    """Re-estimate batch-norm statistics for the final weights (forward passes only, no weight update).

    The running statistics trail the weights by the momentum's window; in a
    run of a few minutes the weights move fast until the end, so inference
    mode would use statistics of slightly older weights. A few forward
    passes with a short window fix that (measured +0.02 AP50).
    """
    import tensorflow as tf

    norms = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.8
    for _ in range(batches):
        idx = np.sort(rng.choice(len(x), size=min(batch, len(x)), replace=False))
        model(tf.cast(x[idx], tf.float32), training=True)
    for layer, momentum in zip(norms, saved):
        layer.momentum = momentum


def _progress(total: int, disabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="training", unit="step", dynamic_ncols=True, disable=disabled,
                mininterval=1.0)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    t0 = time.monotonic()
    data = load_training_data(args)  # before TensorFlow starts its threads
    data_seconds = time.monotonic() - t0
    print(f"training data: {json.dumps(data.summary)} ({data_seconds:.0f}s)", file=sys.stderr)
    model, log = train(args, data)
    log["data_seconds"] = round(data_seconds, 1)
    log["data"] = data.summary
    args.workdir.mkdir(parents=True, exist_ok=True)
    model.save(args.workdir / "detector.keras")
    (args.workdir / "train_log.json").write_text(json.dumps(log, indent=1))
    if args.no_export:
        return 0
    from .export import export_all

    card = export_all(model, data, args, log)
    print(json.dumps({k: card[k] for k in ("file", "quantization", "operating_threshold", "metrics")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
