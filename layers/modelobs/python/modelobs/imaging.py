"""Decode untrusted image bytes into an RGB picture the model can take.

Everything a client can send goes through here, so every failure becomes an
:class:`~modelobs.errors.InvalidImageError` with a reason, and nothing is
decoded before its size is known to be safe (decompression bombs).

Speed: the model averages its 320x320 input down to 160x160, so JPEGs are
decoded with Pillow's *draft* mode at the smallest DCT scale that still
gives >= 160 pixels a side; a 640x480 JPEG decodes at 320x240, about 3x
faster than a full decode.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidImageError, Reason

#: Formats accepted, as Pillow names them, with the content type each has.
SUPPORTED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}

DEFAULT_MAX_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit
DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: more than any camera upload, far below a bomb

# Signatures of image formats Pillow cannot open, so that they are told apart
# from non-images: a HEIC photo from a phone deserves "unsupported", not "not an image".
_OTHER_IMAGE_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypmsf1", "HEIF"),
    (0, b"%PDF", "PDF"),
    (0, b"<svg", "SVG"),
    (0, b"<?xml", "XML/SVG"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"\xff\x0a", "JPEG XL"),
)

_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}


@dataclass(frozen=True)
class DecodedImage:
    """An RGB picture plus the size of the original as the viewer sees it (after EXIF rotation).

    ``image`` may be smaller than ``width`` x ``height`` (JPEG draft decode);
    boxes are always reported in original pixels.
    """

    image: Image.Image
    width: int
    height: int
    format: str
    content_type: str


def content_type_of(format_name: str) -> str:
    return SUPPORTED_FORMATS.get(format_name, "application/octet-stream")


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int | None = 160,
) -> DecodedImage:
    """Decode ``data``; raise :class:`InvalidImageError` for anything that is not a usable image.

    ``min_side`` lets JPEGs decode at a reduced scale that keeps at least that
    many pixels on each side (``None`` decodes at full size).
    """
    if not data:
        raise InvalidImageError(Reason.EMPTY, "The request body is empty: send the image bytes.")
    if len(data) > max_bytes:
        raise InvalidImageError(
            Reason.TOO_LARGE,
            f"The image is {len(data):,} bytes; the limit is {max_bytes:,}. Send a smaller or more compressed image.",
        )
    image = _open(data)
    fmt = image.format or "unknown"
    if fmt not in SUPPORTED_FORMATS:
        raise InvalidImageError(Reason.UNSUPPORTED_FORMAT, _unsupported_message(fmt))
    raw_w, raw_h = image.size
    if raw_w <= 0 or raw_h <= 0:
        raise InvalidImageError(Reason.NOT_AN_IMAGE, f"The {fmt} image has no pixels ({raw_w}x{raw_h}).")
    if raw_w * raw_h > max_pixels:
        raise InvalidImageError(
            Reason.TOO_MANY_PIXELS,
            f"The image is {raw_w}x{raw_h} = {raw_w * raw_h:,} pixels; the limit is {max_pixels:,}. Downscale it first.",
        )
    orientation = _orientation(image)
    width, height = (raw_h, raw_w) if orientation in _SWAPS_AXES else (raw_w, raw_h)

    if fmt == "JPEG" and min_side:
        image.draft("RGB", (min_side, min_side))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(
            Reason.TRUNCATED,
            f"The {fmt} image could not be decoded ({exc}); it is probably truncated or corrupt. Send the complete file.",
        ) from exc
    if orientation not in (None, 1):
        image = ImageOps.exif_transpose(image)
    return DecodedImage(_to_rgb(image), width, height, fmt, SUPPORTED_FORMATS[fmt])


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(
            Reason.TOO_MANY_PIXELS, f"The image has too many pixels to decode safely ({exc}). Downscale it first."
        ) from exc
    except UnidentifiedImageError as exc:
        for offset, signature, name in _OTHER_IMAGE_SIGNATURES:
            if data[offset : offset + len(signature)].lower() == signature.lower():
                raise InvalidImageError(Reason.UNSUPPORTED_FORMAT, _unsupported_message(name)) from exc
        raise InvalidImageError(
            Reason.NOT_AN_IMAGE,
            f"The body is not an image ({len(data):,} bytes starting {data[:8]!r}). Send JPEG, PNG, WebP, GIF, BMP or TIFF bytes.",
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # The format was recognised but its header is broken.
        raise InvalidImageError(
            Reason.TRUNCATED, f"The image header could not be read ({exc}); the file is probably truncated or corrupt."
        ) from exc


def _unsupported_message(fmt: str) -> str:
    return f"{fmt} images are not supported. Send JPEG, PNG, WebP, GIF, BMP or TIFF."


def _orientation(image: Image.Image) -> int | None:
    try:
        return image.getexif().get(_ORIENTATION_TAG)
    except Exception:  # a broken EXIF block must not reject an otherwise good image
        return None


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited over white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return Image.fromarray(_to_uint8(np.asarray(image)), "L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise InvalidImageError(
            Reason.UNSUPPORTED_FORMAT, f"Images in colour mode {mode} are not supported. Send RGB or greyscale."
        ) from exc


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale a 16/32-bit or float greyscale array to 0..255 by its nominal range."""
    arr = values.astype(np.float32)
    if values.dtype.kind == "f":
        top = 1.0 if arr.size and float(arr.max()) <= 1.0 else 255.0
    elif arr.size and float(arr.max()) > 255:
        top = 65535.0
    else:
        top = 255.0
    return np.clip(arr * (255.0 / top), 0, 255).round().astype(np.uint8)
