"""Read a Labelbox export (v2 NDJSON) plus its images into the dataset format.

    make etl EXPORT=export.ndjson IMAGES=images/ OUT=data/labelbox
    python -m model_build.labelbox_export --help

One JSON object per data row::

    {"data_row": {"id", "global_key", "external_id", "row_data"},
     "media_attributes": {"width", "height", ...},
     "projects": {"<project id>": {"labels": [
         {"label_details": {"created_at", "updated_at"},
          "annotations": {"objects": [
              {"name": "animal", "annotation_kind": "ImageBoundingBox",
               "bounding_box": {"top", "left", "height", "width"}}]}}]}}}

Images are found, in order, at ``row_data`` when it is a local path or a
``file://`` URL (relative paths are taken from the export file's folder),
then in ``--images`` under the global key, external id or data row id with
any image extension. Labelbox's ``top/left/height/width`` becomes
``[x1, y1, x2, y2]`` here, at the edge, with ``modelobs.boxes``.

Rows that cannot become a sample are skipped, each with a reason a person
can act on (no label in the project, image not found, size mismatch, bad
JSON), and reported together: one bad row must not sink a 10,000-row export,
and a silently shrinking dataset must not go unnoticed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from modelobs.boxes import labelbox_bbox_to_xyxy
from PIL import Image, ImageOps

from .dataset import Sample, summarize, write_dataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class ExportError(ValueError):
    """The export as a whole cannot be read (e.g. several projects and none chosen)."""


@dataclass(frozen=True)
class Skipped:
    """A data row that did not become a sample, and why."""

    line: int
    row_id: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line} ({self.row_id}): {self.reason}"


@dataclass
class ExportResult:
    samples: list[Sample]
    skipped: list[Skipped]
    project_id: str | None
    stats: Counter[str] = field(default_factory=Counter)


def _iter_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed row or the JSON error) for each non-blank line."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                yield lineno, exc


def project_ids(path: str | os.PathLike[str]) -> Counter[str]:
    """How many data rows each project in the export holds."""
    counts: Counter[str] = Counter()
    for _, row in _iter_rows(Path(path)):
        if isinstance(row, dict):
            counts.update((row.get("projects") or {}).keys())
    return counts


def choose_project(path: Path, project_id: str | None) -> str | None:
    """The project to read: the one asked for, or the only one; several without a choice is an error."""
    found = project_ids(path)
    if project_id:
        if project_id not in found:
            raise ExportError(f"project {project_id!r} is not in {path}; it has {sorted(found) or 'no projects'}")
        return project_id
    if len(found) > 1:
        listing = ", ".join(f"{pid} ({n} rows)" for pid, n in found.most_common())
        raise ExportError(f"{path} holds labels from several projects: {listing}. Choose one with --project-id.")
    return next(iter(found), None)


def _row_id(row: Mapping[str, Any]) -> str:
    dr = row.get("data_row") or {}
    return str(dr.get("global_key") or dr.get("external_id") or dr.get("id") or "?")


def _latest_label(labels: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The most recently updated label: a review or correction supersedes the first pass."""
    def when(label: Mapping[str, Any]) -> str:
        details = label.get("label_details") or {}
        return str(details.get("updated_at") or details.get("created_at") or "")

    return max(labels, key=when)


def find_image(row: Mapping[str, Any], export_dir: Path, images_dir: Path | None) -> Path | None:
    """The local image file for a data row, or None (see the module docstring for the search order)."""
    dr = row.get("data_row") or {}
    row_data = str(dr.get("row_data") or "")
    candidates: list[Path] = []
    if row_data.startswith("file://"):
        candidates.append(Path(urllib.parse.unquote(urllib.parse.urlparse(row_data).path)))
    elif "://" in row_data:  # a cloud URL we cannot fetch here; its file name may be in the images folder
        if images_dir:
            candidates.append(images_dir / Path(urllib.parse.unquote(urllib.parse.urlparse(row_data).path)).name)
    elif row_data:  # a plain local path
        p = Path(row_data)
        candidates += [p] if p.is_absolute() else [export_dir / p, p]
        if images_dir:
            candidates.append(images_dir / p.name)
    if images_dir:
        for key in (dr.get("global_key"), dr.get("external_id"), dr.get("id")):
            if not key:
                continue
            key = str(key)
            candidates.append(images_dir / key)
            candidates += [images_dir / f"{key}{ext}" for ext in IMAGE_EXTENSIONS]
            candidates += [images_dir / f"{key}{ext.upper()}" for ext in IMAGE_EXTENSIONS]
    for c in candidates:
        if c.is_file():
            return c
    return None


def convert_row(row: Mapping[str, Any], project_id: str | None, export_dir: Path, images_dir: Path | None,
                label_map: Mapping[str, str], stats: Counter[str]) -> Sample | str:
    """One data row as a Sample, or the reason it cannot be one."""
    dr = row.get("data_row")
    if not isinstance(dr, Mapping):
        return "no data_row object"
    projects = row.get("projects") or {}
    if project_id is None or project_id not in projects:
        return f"not in project {project_id}" if project_id else "no project labels in this row"
    labels = (projects[project_id] or {}).get("labels") or []
    if not labels:
        return "no label in the project yet (not reviewed)"
    label = _latest_label(labels)
    objects = ((label.get("annotations") or {}).get("objects")) or []

    path = find_image(row, export_dir, images_dir)
    if path is None:
        hint = "pass --images with a folder holding <global_key>.<ext>" if not images_dir else f"not found in {images_dir} either"
        return f"image not found (row_data {str(dr.get('row_data'))[:80]!r}); {hint}"
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)  # Labelbox draws on the image as displayed, EXIF applied
            image = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        return f"image {path} cannot be decoded: {exc}"
    h, w = image.shape[:2]
    media = row.get("media_attributes") or {}
    sx = sy = 1.0
    mw, mh = media.get("width"), media.get("height")
    if mw and mh and (int(mw), int(mh)) != (w, h):
        if abs(int(mw) / int(mh) - w / h) > 0.01:
            return f"image {path.name} is {w}x{h} but the export says {mw}x{mh} (a different image?)"
        sx, sy = w / int(mw), h / int(mh)  # same picture at another resolution: scale the boxes
        stats["rescaled_images"] += 1

    boxes: list[list[float]] = []
    names: list[str] = []
    for obj in objects:
        bbox = obj.get("bounding_box") if isinstance(obj, Mapping) else None
        if not bbox:
            stats["non_box_objects_ignored"] += 1
            continue
        try:
            x1, y1, x2, y2 = labelbox_bbox_to_xyxy(bbox)
        except (KeyError, TypeError, ValueError):
            stats["malformed_boxes_dropped"] += 1
            continue
        x1, x2 = np.clip([x1 * sx, x2 * sx], 0, w)
        y1, y2 = np.clip([y1 * sy, y2 * sy], 0, h)
        if x2 - x1 < 1 or y2 - y1 < 1:
            stats["empty_boxes_dropped"] += 1
            continue
        name = str(obj.get("name") or obj.get("value") or "object")
        boxes.append([float(x1), float(y1), float(x2), float(y2)])
        names.append(label_map.get(name, name))
    stats["boxes"] += len(boxes)
    return Sample(
        id=_row_id(row),
        image=image,
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        labels=names,
        meta={"source": "labelbox", "data_row_id": dr.get("id"), "project_id": project_id, "label_id": label.get("id"),
              "image_file": str(path)},
    )


def read_export(export: str | os.PathLike[str], images_dir: str | os.PathLike[str] | None = None,
                project_id: str | None = None, label_map: Mapping[str, str] | None = None) -> ExportResult:
    """Every data row of ``export`` as a Sample, plus the rows skipped and why."""
    path = Path(export)
    if not path.is_file():
        raise ExportError(f"export file {path} not found")
    images = Path(images_dir) if images_dir else None
    if images is not None and not images.is_dir():
        raise ExportError(f"images folder {images} not found")
    project = choose_project(path, project_id)
    result = ExportResult([], [], project)
    seen: set[str] = set()
    for lineno, row in _iter_rows(path):
        if isinstance(row, json.JSONDecodeError):
            result.skipped.append(Skipped(lineno, "?", f"not JSON: {row.msg} at column {row.colno}"))
            continue
        if not isinstance(row, dict):
            result.skipped.append(Skipped(lineno, "?", "not a JSON object"))
            continue
        out = convert_row(row, project, path.parent, images, label_map or {}, result.stats)
        if isinstance(out, str):
            result.skipped.append(Skipped(lineno, _row_id(row), out))
        elif out.id in seen:
            result.skipped.append(Skipped(lineno, out.id, "duplicate data row (kept the first)"))
        else:
            seen.add(out.id)
            result.samples.append(out)
    return result


def _parse_label_map(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise argparse.ArgumentTypeError(f"--label-map takes NAME=CLASS, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m model_build.labelbox_export",
        description="Build a training dataset (images/ + annotations.jsonl) from a Labelbox export v2 NDJSON file.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--export", required=True, type=Path, help="the export's .ndjson file")
    ap.add_argument("--images", type=Path, help="folder with the images, named by global key (or external id / data row id)")
    ap.add_argument("--out", required=True, type=Path, help="dataset folder to write")
    ap.add_argument("--project-id", help="project to read labels from (required if the export has several)")
    ap.add_argument("--label-map", nargs="*", default=[], metavar="NAME=CLASS",
                    help="rename Labelbox feature names to model classes, e.g. cat=animal dog=animal")
    ap.add_argument("--format", choices=["png", "jpg"], default="png", help="image format in the dataset")
    args = ap.parse_args(argv)
    try:
        result = read_export(args.export, args.images, args.project_id, _parse_label_map(args.label_map))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for s in result.skipped:
        print(f"skipped {s}", file=sys.stderr)
    if not result.samples:
        print(f"error: no usable data rows in {args.export} ({len(result.skipped)} skipped)", file=sys.stderr)
        return 1
    write_dataset(result.samples, args.out, image_format=args.format)
    summary = summarize(result.samples)
    print(f"wrote {args.out}: {len(result.samples)} images, {summary['boxes']} boxes {summary['per_label']}, "
          f"{summary['empty_images']} without objects; project {result.project_id}; "
          f"{len(result.skipped)} rows skipped; {dict(result.stats)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
