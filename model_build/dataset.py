"""The one dataset format every source (synthetic, Labelbox export) produces and training reads.

On disk a dataset is a folder::

    images/<id>.png | <id>.jpg
    annotations.jsonl        one JSON object per image:
                             {"id", "file", "width", "height",
                              "objects": [{"box": [x1, y1, x2, y2], "label": str}], "meta": {...}}

Boxes are ``[x1, y1, x2, y2]`` in pixels of the stored image, as everywhere in
the system; sources convert at their edge. JSON lines rather than one JSON
file so a dataset can be appended to and streamed without loading it whole.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ANNOTATIONS = "annotations.jsonl"
IMAGES_DIR = "images"
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Sample:
    """One labelled image: ``image`` uint8 (H, W, 3), ``boxes`` float32 (N, 4) xyxy pixels, ``labels`` N strings."""

    id: str
    image: np.ndarray
    boxes: np.ndarray
    labels: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        if len(self.labels) != len(self.boxes):
            raise ValueError(f"sample {self.id}: {len(self.boxes)} boxes but {len(self.labels)} labels")

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


def safe_file_stem(sample_id: str) -> str:
    """A file name for an id that may hold slashes or spaces (Labelbox global keys can)."""
    stem = _SAFE_ID.sub("_", sample_id).strip("._")
    return stem or "sample"


def annotation_record(sample: Sample, file: str) -> dict[str, Any]:
    """The JSON line that describes ``sample`` stored as ``file`` (relative to the dataset root)."""
    return {
        "id": sample.id,
        "file": file,
        "width": sample.width,
        "height": sample.height,
        "objects": [
            {"box": [round(float(v), 2) for v in box], "label": label}
            for box, label in zip(sample.boxes, sample.labels, strict=True)
        ],
        "meta": sample.meta,
    }


def write_dataset(samples: Iterable[Sample], root: str | os.PathLike[str], image_format: str = "png") -> int:
    """Write ``samples`` under ``root`` (images + annotations.jsonl, replacing any previous annotations).

    PNG by default because synthetic pixels are exact and a lossy format would
    shift what the model sees; ``jpg`` for real photos where size matters.
    Returns the number of samples written.
    """
    if image_format not in ("png", "jpg"):
        raise ValueError(f"image_format must be png or jpg, not {image_format!r}")
    root = Path(root)
    (root / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    count = 0
    seen: set[str] = set()
    tmp = root / (ANNOTATIONS + ".tmp")
    with open(tmp, "w") as fh:
        for sample in samples:
            stem = safe_file_stem(sample.id)
            if stem in seen:
                stem = f"{stem}-{count}"
            seen.add(stem)
            rel = f"{IMAGES_DIR}/{stem}.{image_format}"
            img = Image.fromarray(np.ascontiguousarray(sample.image, dtype=np.uint8), "RGB")
            if image_format == "jpg":
                img.save(root / rel, quality=92)
            else:
                img.save(root / rel, compress_level=1)
            fh.write(json.dumps(annotation_record(sample, rel)) + "\n")
            count += 1
    tmp.replace(root / ANNOTATIONS)  # readers never see a half-written index
    return count


def read_annotations(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The annotation records of the dataset at ``root``, without loading images."""
    path = Path(root) / ANNOTATIONS
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a dataset folder (expected images/ and {ANNOTATIONS})")
    records = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{lineno}: not JSON ({exc})") from None
    return records


def load_image_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file to uint8 RGB (EXIF orientation is the source's job: boxes refer to stored pixels)."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def read_dataset(root: str | os.PathLike[str]) -> Iterator[Sample]:
    """Yield the samples of the dataset at ``root``, in file order."""
    root = Path(root)
    for rec in read_annotations(root):
        image = load_image_rgb(root / rec["file"])
        objects = rec.get("objects", [])
        boxes = np.array([o["box"] for o in objects], dtype=np.float32).reshape(-1, 4)
        yield Sample(
            id=str(rec["id"]),
            image=image,
            boxes=boxes,
            labels=[str(o["label"]) for o in objects],
            meta=dict(rec.get("meta") or {}),
        )


def summarize(samples: Iterable[Sample]) -> dict[str, Any]:
    """Counts a model card and a log line want: images, boxes, empty images, boxes per label."""
    n_images = n_boxes = n_empty = 0
    per_label: dict[str, int] = {}
    for s in samples:
        n_images += 1
        n_boxes += len(s.boxes)
        n_empty += len(s.boxes) == 0
        for label in s.labels:
            per_label[label] = per_label.get(label, 0) + 1
    return {"images": n_images, "boxes": n_boxes, "empty_images": n_empty, "per_label": per_label}
