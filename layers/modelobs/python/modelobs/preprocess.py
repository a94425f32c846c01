"""Turn a decoded picture into the detector's input tensor.

Training (model_build) and serving call this same function, so the pixels the
model learned from and the pixels it is served are made the same way: no
train/serve skew from a different resize filter or channel order.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: The detector's input is a square RGB image of this many pixels a side,
#: stretched (not letterboxed) from the original, values 0..255 as float32.
INPUT_SIZE = 320


def to_model_input(image: Image.Image, size: int = INPUT_SIZE) -> np.ndarray:
    """Resize an RGB image to ``size`` x ``size`` and return ``(size, size, 3)`` float32 in 0..255.

    Bilinear with Pillow's antialiasing support when shrinking; the model
    averages its input down by 2 inside, so finer filters buy nothing.
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def scale_boxes_to_input(
    boxes: np.ndarray, width: int, height: int, size: int = INPUT_SIZE
) -> np.ndarray:
    """Map ``[x1,y1,x2,y2]`` pixel boxes of a ``width`` x ``height`` image into model-input pixels."""
    scale = np.array([size / width, size / height, size / width, size / height], dtype=np.float32)
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * scale
