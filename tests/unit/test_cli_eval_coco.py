"""`modelobs eval-coco GT.json DT.json`: the contract other tools script against."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from coco_synth import STAT_NAMES, pycocotools_stats, random_coco
from modelobs.cli import main


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, dict, list]:
    gt, dt = random_coco(np.random.default_rng(3), n_img=20, n_cat=3)
    gt_path, dt_path = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_path.write_text(json.dumps(gt))
    dt_path.write_text(json.dumps(dt))
    return gt_path, dt_path, gt, dt


def test_prints_exactly_one_object_with_pycocotools_values(files, capsys) -> None:
    gt_path, dt_path, gt, dt = files
    assert main(["eval-coco", str(gt_path), str(dt_path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.count("\n") == 1
    stats = json.loads(out)
    assert list(stats) == list(STAT_NAMES)
    assert stats == pycocotools_stats(gt, dt)  # JSON floats round-trip exactly


def test_installed_entry_point(files) -> None:
    gt_path, dt_path, _, _ = files
    proc = subprocess.run(
        [sys.executable, "-m", "modelobs.cli", "eval-coco", str(gt_path), str(dt_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert set(json.loads(proc.stdout)) == set(STAT_NAMES)


@pytest.mark.parametrize(
    ("gt_text", "dt_text", "blamed", "message"),
    [
        (None, "[]", "gt", "cannot read"),
        ('{"images": [], "categories": []}', None, "dt", "cannot read"),
        ("{not json", "[]", "gt", "not valid JSON"),
        ('{"images": [], "categories": []}', "[1, 2", "dt", "not valid JSON"),
        ("[]", "[]", "gt", "COCO object"),  # files swapped or a results list given as GT
        ('{"annotations": [], "categories": []}', "[]", "gt", "no 'images'"),
        ('{"images": [{"id": 1}], "categories": [{"id": 1}]}', '{"image_id": 1}', "dt", "list of detections"),
        ('{"images": [{"id": 1}], "categories": [{"id": 1}]}',
         '[{"image_id": 9, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]', "dt", "not in the ground truth"),
        ('{"images": [{"id": 1}], "categories": [{"id": 1}]}',
         '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]', "dt", "has no 'score'"),
        ('{"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "area": "big"}]}',
         "[]", "gt", "wrong type"),
    ],
)  # fmt: skip
def test_bad_files_exit_non_zero_naming_the_file(tmp_path, capsys, gt_text, dt_text, blamed, message) -> None:
    paths = {"gt": tmp_path / "truth.json", "dt": tmp_path / "detections.json"}
    for key, text in (("gt", gt_text), ("dt", dt_text)):
        if text is not None:
            paths[key].write_text(text)
    code = main(["eval-coco", str(paths["gt"]), str(paths["dt"])])
    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert err.startswith(f"modelobs eval-coco: {paths[blamed]}: ")
    assert message in err
    assert err.count("\n") == 1  # one line, no traceback
