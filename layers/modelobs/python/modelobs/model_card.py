"""Read the model card that sits beside the ``.tflite`` file.

The card, not the code, says which file is the model, its classes and its
operating threshold, so a new model ships as files in the model layer with
no code change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CARD_NAME = "detector.json"


class ModelNotFoundError(FileNotFoundError):
    """No model card or model file where one was expected; the message names the fix."""


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    path: Path
    sha256: str
    classes: tuple[str, ...]
    input_size: int
    score_floor: float
    operating_threshold: float
    quantization: str
    raw: dict[str, Any]

    @property
    def model_ref(self) -> dict[str, str]:
        """What every record says about the model that made it."""
        return {"name": self.name, "version": self.version}


def load_card(model_dir: Path, variant: str | None = None) -> ModelCard:
    """Load ``detector.json`` from ``model_dir``; ``variant`` (e.g. ``int8``) picks a non-default file."""
    card_path = Path(model_dir) / CARD_NAME
    if not card_path.is_file():
        raise ModelNotFoundError(
            f"No model card at {card_path}. Set MODELOBS_MODEL_DIR to the folder holding {CARD_NAME} "
            "and the .tflite file, or build one with `make train`."
        )
    raw = json.loads(card_path.read_text())
    file_name = raw["file"]
    sha = raw.get("sha256", "")
    quantization = raw.get("quantization", "float32")
    if variant and variant != quantization:
        variants = raw.get("variants", {})
        if variant not in variants:
            raise ModelNotFoundError(f"The model card at {card_path} has no variant {variant!r}; it has {sorted(variants)}.")
        file_name, sha, quantization = variants[variant]["file"], variants[variant].get("sha256", ""), variant
    path = card_path.parent / file_name
    if not path.is_file():
        raise ModelNotFoundError(f"The model card names {file_name}, which is not in {card_path.parent}.")
    return ModelCard(
        name=raw["name"],
        version=str(raw["version"]),
        path=path,
        sha256=sha,
        classes=tuple(raw["classes"]),
        input_size=int(raw.get("input", {}).get("size", 320)),
        score_floor=float(raw.get("score_floor", 0.05)),
        operating_threshold=float(raw["operating_threshold"]),
        quantization=quantization,
        raw=raw,
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
