"""A tiny end-to-end training run: data -> Keras -> TFLite float32 + int8 -> card, so model_build cannot rot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.training

from modelobs.postprocess import decode  # noqa: E402

from model_build import train  # noqa: E402
from model_build.evaluate import interpreter_class  # noqa: E402
from model_build.model import build_model  # noqa: E402


def test_model_matches_the_contract() -> None:
    model = build_model(num_classes=1)
    assert model.input_shape == (None, 320, 320, 3)
    assert model.output_shape == (None, 20, 20, 5)
    assert 150_000 <= model.count_params() <= 350_000
    assert build_model(num_classes=3).output_shape == (None, 20, 20, 7)  # general in the class count


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("train")
    out = tmp / "model"
    rc = train.main([
        "--images", "12", "--steps", "3", "--batch-size", "4", "--time-budget", "120",
        "--heldout-images", "4", "--by-difficulty-images", "2",
        "--out", str(out), "--workdir", str(tmp / "work"), "--no-progress", "--version", "0.0.0-test",
    ])
    assert rc == 0
    return out


def test_exports_loadable_tflite_models_with_the_contract_shapes(trained: Path) -> None:
    for name in ("detector-float32.tflite", "detector-int8.tflite"):
        interp = interpreter_class()(model_path=str(trained / name), num_threads=1)
        interp.allocate_tensors()
        (inp,) = interp.get_input_details()
        (out,) = interp.get_output_details()
        assert tuple(inp["shape"]) == (1, 320, 320, 3) and inp["dtype"] == np.float32
        assert tuple(out["shape"]) == (1, 20, 20, 5) and out["dtype"] == np.float32
        interp.set_tensor(inp["index"], np.full((1, 320, 320, 3), 128, np.float32))
        interp.invoke()
        y = interp.get_tensor(out["index"])
        assert np.isfinite(y).all() and (y >= 0).all() and (y <= 1).all()  # every channel is a sigmoid
        decode(y, num_classes=1)


def test_writes_a_model_card_the_library_can_load(trained: Path) -> None:
    from modelobs.model_card import file_sha256, load_card

    raw = json.loads((trained / "detector.json").read_text())
    assert raw["schema"] == 1 and raw["classes"] == ["animal"] and raw["version"] == "0.0.0-test"
    assert set(raw["variants"]) == {"float32", "int8"}
    assert raw["input"] == {**raw["input"], "size": 320, "channels": 3, "dtype": "float32", "range": [0, 255]}
    assert raw["output"]["grid"] == 20 and raw["output"]["stride"] == 16
    for key in ("AP50", "AP", "mean_iou", "precision", "recall"):
        assert key in raw["metrics"]
    assert set(raw["metrics_by_difficulty"]) == {"0.0", "0.5", "1.0"}
    card = load_card(trained)
    assert file_sha256(card.path) == card.sha256 == raw["sha256"]
    assert load_card(trained, variant="int8").path.name == "detector-int8.tflite"
