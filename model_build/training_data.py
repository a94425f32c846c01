"""Turn samples into the arrays training feeds on: model inputs and CenterNet targets.

Inputs go through ``modelobs.preprocess.to_model_input``, the function the
served model's inputs go through, so there is no train/serve skew. Inputs
are kept as uint8 (the resize of a uint8 image is uint8, so nothing is
lost) to hold a few thousand images in memory. Synthetic sets are made in
worker processes and cached on disk by their parameters: the second
``make train`` starts training at once.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from modelobs.preprocess import INPUT_SIZE, scale_boxes_to_input, to_model_input
from PIL import Image

from .dataset import Sample, read_dataset
from .synthetic import make_sample
from .targets import GRID, encode

#: Bump when the generator or the encoding changes, so stale caches are not reused.
CACHE_VERSION = 3


@dataclass
class Arrays:
    """Model inputs (N, 320, 320, 3) uint8, targets (N, G, G, C + 5) float32, and what they came from."""

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    summary: dict[str, Any]


def sample_to_arrays(sample: Sample, classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """One sample as (model input uint8, targets); labels outside ``classes`` are an error, not a silent drop."""
    x = to_model_input(Image.fromarray(sample.image, "RGB")).astype(np.uint8)
    index = {c: i for i, c in enumerate(classes)}
    try:
        ids = np.array([index[label] for label in sample.labels], dtype=np.int64)
    except KeyError as exc:
        raise ValueError(f"sample {sample.id} has label {exc.args[0]!r}, not one of {list(classes)}") from None
    boxes = scale_boxes_to_input(sample.boxes, sample.width, sample.height)
    return x, encode(boxes, ids, len(classes), GRID, INPUT_SIZE)


def _synthetic_item(args: tuple[int, int, Any, tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray, int, float]:
    seed, index, difficulty, classes = args
    s = make_sample(seed, index, difficulty)
    x, y = sample_to_arrays(s, classes)
    return x, y, len(s.boxes), float(s.meta.get("difficulty", 0.0))


def synthetic_arrays(n: int, seed: int, difficulty: float | tuple[float, float], classes: Sequence[str] = ("animal",),
                     workers: int | None = None, cache_dir: str | Path | None = None, progress: bool = True) -> Arrays:
    """``n`` synthetic images of set ``seed`` as training arrays, generated in parallel and cached."""
    classes = list(classes)
    key = {"v": CACHE_VERSION, "n": n, "seed": seed, "difficulty": difficulty, "classes": classes}
    path = None
    if cache_dir:
        digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
        path = Path(cache_dir) / f"synthetic-{digest}.npz"
        if path.is_file():
            with np.load(path) as z:
                return Arrays(z["x"], z["y"], classes, json.loads(str(z["summary"])))
    x = np.zeros((n, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    y = np.zeros((n, GRID, GRID, len(classes) + 5), dtype=np.float32)
    n_boxes, diffs = 0, []
    jobs = [(seed, i, difficulty, tuple(classes)) for i in range(n)]
    workers = workers or max(1, min(len(os.sched_getaffinity(0)), 8))
    bar = _bar(n, "generating synthetic images", progress)
    # spawn, not fork: forking a process that has started TensorFlow's threads can deadlock.
    with mp.get_context("spawn").Pool(workers) as pool:
        for i, (xi, yi, nb, d) in enumerate(pool.imap(_synthetic_item, jobs, chunksize=8)):
            x[i], y[i] = xi, yi
            n_boxes += nb
            diffs.append(d)
            bar.update(1)
    bar.close()
    summary = {
        "source": "synthetic",
        "images": n,
        "boxes": n_boxes,
        "seed": seed,
        "difficulty": list(difficulty) if isinstance(difficulty, tuple) else [difficulty, difficulty],
        "difficulty_mean": round(float(np.mean(diffs)), 3) if diffs else None,
        "generator": "model_build.synthetic",
    }
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, x=x, y=y, summary=json.dumps(summary))
        tmp.replace(path)
    return Arrays(x, y, classes, summary)


def dataset_arrays(root: str | Path, classes: Sequence[str] | None = None, progress: bool = True) -> Arrays:
    """A dataset folder (e.g. from ``make etl``) as training arrays; classes default to its sorted labels."""
    samples = list(read_dataset(root))
    if classes is None:
        classes = sorted({label for s in samples for label in s.labels}) or ["animal"]
    return samples_to_arrays(samples, classes, {"source": f"dataset:{Path(root).name}"}, progress)


def samples_to_arrays(samples: Iterable[Sample], classes: Sequence[str], summary: dict[str, Any],
                      progress: bool = True) -> Arrays:
    """In-memory samples as training arrays."""
    samples = list(samples)
    x = np.zeros((len(samples), INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    y = np.zeros((len(samples), GRID, GRID, len(classes) + 5), dtype=np.float32)
    bar = _bar(len(samples), "preparing images", progress)
    for i, s in enumerate(samples):
        x[i], y[i] = sample_to_arrays(s, classes)
        bar.update(1)
    bar.close()
    summary = {**summary, "images": len(samples), "boxes": int(sum(len(s.boxes) for s in samples))}
    return Arrays(x, y, list(classes), summary)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar when tqdm is installed and wanted (it is in ``.venv-train``), else nothing."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="img", dynamic_ncols=True)
