"""Labelbox export v2 NDJSON -> dataset: boxes converted at the edge, bad rows reported, not fatal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from model_build import labelbox_export as lb
from model_build.dataset import read_dataset

PROJECT = "clproj000000000000000001"
OTHER = "clproj000000000000000002"


def _row(key: str, row_data: str, objects: list[dict[str, Any]] | None, *, width: int = 64, height: int = 48,
         project: str = PROJECT, labels: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if labels is None:
        labels = [] if objects is None else [{
            "id": f"lbl-{key}",
            "label_details": {"created_at": "2026-01-02T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z"},
            "annotations": {"objects": objects, "classifications": [], "relationships": []},
        }]
    return {
        "data_row": {"id": f"dr-{key}", "global_key": key, "external_id": f"{key}.png", "row_data": row_data},
        "media_attributes": {"width": width, "height": height, "mime_type": "image/png"},
        "projects": {project: {"name": "animals", "labels": labels}},
    }


def _box(left: float, top: float, width: float, height: float, name: str = "animal") -> dict[str, Any]:
    return {"feature_id": "f", "name": name, "value": name, "annotation_kind": "ImageBoundingBox",
            "bounding_box": {"top": top, "left": left, "height": height, "width": width}}


def _image(path: Path, w: int = 64, h: int = 48) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture
def export(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a", "b", "c", "e"):
        _image(images / f"{name}.png")
    _image(tmp_path / "local.png")
    rows: list[Any] = [
        # a: two boxes, found in --images by global key
        _row("a", "https://storage.example/bucket/a.png", [_box(10, 5, 20, 30), _box(40, 20, 10, 10, "cat")]),
        # b: reviewed, nothing in it -> a valid empty sample
        _row("b", "https://storage.example/bucket/b.png", []),
        # local: row_data is a path relative to the export file
        _row("local", "local.png", [_box(0, 0, 64, 48)]),
        # c: box hanging off the image is clipped; a polygon is ignored
        _row("c", "c.png", [_box(50, 40, 30, 30), {"name": "animal", "polygon": [{"x": 1, "y": 2}]}]),
        # d: image missing everywhere
        _row("d", "https://storage.example/bucket/d.png", [_box(1, 1, 5, 5)]),
        # e: not reviewed yet (no labels)
        _row("e", "e.png", None),
        "{not json",
        # f: size disagrees with the export (different picture)
        _row("f", "local.png", [_box(1, 1, 5, 5)], width=100, height=20),
    ]
    return _write(tmp_path / "export.ndjson", rows), images


def test_reads_samples_and_converts_boxes(export: tuple[Path, Path]) -> None:
    path, images = export
    result = lb.read_export(path, images)
    by_id = {s.id: s for s in result.samples}
    assert set(by_id) == {"a", "b", "local", "c"}
    # top/left/height/width -> x1, y1, x2, y2 (left is x, top is y)
    np.testing.assert_allclose(by_id["a"].boxes, [[10, 5, 30, 35], [40, 20, 50, 30]])
    assert by_id["a"].labels == ["animal", "cat"]
    assert by_id["b"].boxes.shape == (0, 4) and by_id["b"].labels == []
    np.testing.assert_allclose(by_id["local"].boxes, [[0, 0, 64, 48]])
    np.testing.assert_allclose(by_id["c"].boxes, [[50, 40, 64, 48]])  # clipped to the 64x48 image
    assert result.stats["non_box_objects_ignored"] == 1
    assert by_id["a"].image.shape == (48, 64, 3)
    assert result.project_id == PROJECT


def test_bad_rows_are_skipped_with_reasons(export: tuple[Path, Path]) -> None:
    path, images = export
    result = lb.read_export(path, images)
    reasons = {s.row_id: s.reason for s in result.skipped}
    assert "image not found" in reasons["d"]
    assert "not reviewed" in reasons["e"]
    assert "not JSON" in reasons["?"]
    assert "100x20" in reasons["f"]
    assert len(result.skipped) == 4


def test_label_map_and_latest_label_wins(tmp_path: Path) -> None:
    _image(tmp_path / "x.png")
    old = {"id": "old", "label_details": {"updated_at": "2026-01-01T00:00:00Z"},
           "annotations": {"objects": [_box(1, 1, 5, 5, "dog")]}}
    new = {"id": "new", "label_details": {"updated_at": "2026-02-01T00:00:00Z"},
           "annotations": {"objects": [_box(2, 3, 10, 10, "cat")]}}
    path = _write(tmp_path / "e.ndjson", [_row("x", "x.png", None, labels=[new, old])])
    (sample,) = lb.read_export(path, label_map={"cat": "animal"}).samples
    np.testing.assert_allclose(sample.boxes, [[2, 3, 12, 13]])
    assert sample.labels == ["animal"] and sample.meta["label_id"] == "new"


def test_resized_image_scales_boxes(tmp_path: Path) -> None:
    _image(tmp_path / "half.png", 32, 24)  # the export was labelled on the 64x48 original
    path = _write(tmp_path / "e.ndjson", [_row("half", "half.png", [_box(10, 8, 20, 16)])])
    (sample,) = lb.read_export(path).samples
    np.testing.assert_allclose(sample.boxes, [[5, 4, 15, 12]])


def test_several_projects_need_a_choice(tmp_path: Path) -> None:
    _image(tmp_path / "p.png")
    path = _write(tmp_path / "e.ndjson", [
        _row("p", "p.png", [_box(1, 1, 5, 5)]),
        _row("q", "p.png", [_box(2, 2, 5, 5)], project=OTHER),
    ])
    with pytest.raises(lb.ExportError, match="--project-id"):
        lb.read_export(path)
    result = lb.read_export(path, project_id=OTHER)
    assert [s.id for s in result.samples] == ["q"]
    assert "not in project" in result.skipped[0].reason
    with pytest.raises(lb.ExportError, match="not in"):
        lb.read_export(path, project_id="nope")


def test_cli_writes_a_dataset(export: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, images = export
    out = tmp_path / "ds"
    assert lb.main(["--export", str(path), "--images", str(images), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipped line" in err and "image not found" in err
    samples = list(read_dataset(out))
    assert len(samples) == 4
    a = next(s for s in samples if s.id == "a")
    np.testing.assert_allclose(a.boxes, [[10, 5, 30, 35], [40, 20, 50, 30]])


def test_cli_fails_clearly_when_nothing_is_usable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "e.ndjson", ["{oops"])
    assert lb.main(["--export", str(path), "--out", str(tmp_path / "ds")]) == 1
    assert "no usable data rows" in capsys.readouterr().err
