"""Run the TFLite detector on image bytes and return boxes in original pixels.

One :class:`Detector` per process (a Lambda execution environment keeps it
across invocations): loading the interpreter is the cold-start cost,
``predict`` is the warm path.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import Settings, load_settings
from .imaging import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, DecodedImage, decode_image
from .model_card import ModelCard, load_card
from .postprocess import decode
from .preprocess import to_model_input


def _interpreter_class() -> type:
    """``ai_edge_litert`` (maintained, faster), else ``tflite_runtime`` where only that exists."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
        except ImportError:
            raise ImportError(
                "No TFLite runtime found: install ai-edge-litert (pip install 'modelobs[runtime]') "
                "or, in Lambda, attach the model layer."
            ) from None
    return Interpreter


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # [x1, y1, x2, y2] pixels of the original image
    score: float
    label: str

    def to_dict(self) -> dict[str, Any]:
        return {"box": [round(v, 2) for v in self.box], "score": round(self.score, 4), "label": self.label}


@dataclass(frozen=True)
class Prediction:
    """Every candidate above the model's score floor, and the threshold the model operates at."""

    width: int
    height: int
    format: str
    content_type: str
    detections: tuple[Detection, ...]
    threshold: float
    timings_ms: dict[str, float] = field(default_factory=dict)

    def confident(self) -> list[Detection]:
        """The detections a user acts on: those at or above the operating threshold."""
        return [d for d in self.detections if d.score >= self.threshold]


class Detector:
    def __init__(self, card: ModelCard, threads: int = 1) -> None:
        self.card = card
        self.threads = threads
        interpreter = _interpreter_class()(model_path=str(card.path), num_threads=threads)
        interpreter.allocate_tensors()
        (inp,) = interpreter.get_input_details()
        (out,) = interpreter.get_output_details()
        self._interpreter = interpreter
        self._input = inp
        self._output = out
        self._lock = threading.Lock()  # a TFLite interpreter must not be invoked from two threads at once
        size = card.input_size
        if tuple(inp["shape"]) != (1, size, size, 3):
            raise ValueError(f"{card.path.name} takes input {tuple(inp['shape'])}, the card says {size}x{size}x3")

    @classmethod
    def load(cls, model_dir: Path | None = None, *, threads: int | None = None, variant: str | None = None) -> "Detector":
        settings = load_settings()
        return cls(load_card(model_dir or settings.model_dir, variant), threads or settings.threads)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Detector":
        return cls(load_card(settings.model_dir), settings.threads)

    def invoke(self, tensor: np.ndarray) -> np.ndarray:
        """Run the model on one ``(size, size, 3)`` float32 input; return its raw ``(G, G, C+4)`` output."""
        batch = tensor[np.newaxis]
        dtype = self._input["dtype"]
        if dtype != np.float32:  # a fully-quantised model: quantise the input ourselves
            scale, zero = self._input["quantization"]
            batch = np.clip(np.round(batch / scale + zero), np.iinfo(dtype).min, np.iinfo(dtype).max).astype(dtype)
        with self._lock:
            self._interpreter.set_tensor(self._input["index"], batch)
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._output["index"])
        if raw.dtype != np.float32:
            scale, zero = self._output["quantization"]
            raw = (raw.astype(np.float32) - zero) * scale
        return raw[0]

    def detect(self, decoded: DecodedImage) -> tuple[Detection, ...]:
        raw = self.invoke(to_model_input(decoded.image, self.card.input_size))
        return self._to_detections(raw, decoded.width, decoded.height)

    def _to_detections(self, raw: np.ndarray, width: int, height: int) -> tuple[Detection, ...]:
        found = decode(raw, len(self.card.classes), score_floor=self.card.score_floor)
        scale = np.array([width, height, width, height], dtype=np.float64)
        boxes = np.clip(found.boxes.astype(np.float64) * scale, 0, scale)
        labels = self.card.classes
        return tuple(
            Detection(tuple(float(v) for v in box), float(score), labels[int(cls)])  # type: ignore[arg-type]
            for box, score, cls in zip(boxes, found.scores, found.class_ids)
        )

    def predict(
        self,
        data: bytes,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> Prediction:
        """Decode ``data`` and detect; raises :class:`~modelobs.errors.InvalidImageError` on bad input."""
        t0 = time.perf_counter()
        decoded = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels, min_side=self.card.input_size // 2)
        t1 = time.perf_counter()
        tensor = to_model_input(decoded.image, self.card.input_size)
        t2 = time.perf_counter()
        raw = self.invoke(tensor)
        t3 = time.perf_counter()
        detections = self._to_detections(raw, decoded.width, decoded.height)
        t4 = time.perf_counter()
        timings = {
            "decode_ms": (t1 - t0) * 1e3,
            "resize_ms": (t2 - t1) * 1e3,
            "invoke_ms": (t3 - t2) * 1e3,
            "postprocess_ms": (t4 - t3) * 1e3,
            "total_ms": (t4 - t0) * 1e3,
        }
        return Prediction(
            decoded.width, decoded.height, decoded.format, decoded.content_type,
            detections, self.card.operating_threshold, timings,
        )
