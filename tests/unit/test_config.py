"""The one config loader: names, defaults, and errors that name the variable."""

from __future__ import annotations

import pytest
from modelobs.config import CHECKOUT_MODEL_DIR, load_settings


def test_defaults_find_the_checkout_model():
    settings = load_settings({})
    assert settings.model_dir == CHECKOUT_MODEL_DIR
    assert settings.threads == 1 and settings.bucket is None


def test_the_model_layer_wins_over_the_checkout(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "detector.json").write_text("{}")
    assert load_settings({"LAMBDA_OPT_DIR": str(tmp_path)}).model_dir == tmp_path / "model"
    assert load_settings({"LAMBDA_OPT_DIR": str(tmp_path), "MODELOBS_MODEL_DIR": "/x"}).model_dir.as_posix() == "/x"


def test_a_layer_without_a_model_falls_back_to_the_checkout(tmp_path):
    assert load_settings({"LAMBDA_OPT_DIR": str(tmp_path)}).model_dir == CHECKOUT_MODEL_DIR


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_bad_numbers_name_the_variable(value):
    with pytest.raises(ValueError, match="MODELOBS_THREADS"):
        load_settings({"MODELOBS_THREADS": value})


def test_numbers_and_bucket_are_read():
    s = load_settings({"MODELOBS_THREADS": "2", "MODELOBS_MAX_IMAGE_BYTES": "100", "MODELOBS_BUCKET": "b"})
    assert (s.threads, s.max_image_bytes, s.bucket) == (2, 100, "b")
