"""Decoding untrusted bytes: every format and mode a client may send, and every way it can be bad."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from modelobs.errors import InvalidImageError, Reason
from modelobs.imaging import decode_image
from PIL import Image

from tests.unit.conftest import encode


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_every_supported_format_decodes_to_rgb_at_original_size(chelsea, fmt):
    decoded = decode_image(encode(chelsea, fmt))
    assert decoded.format == fmt
    assert (decoded.width, decoded.height) == chelsea.size
    assert decoded.image.mode == "RGB"
    assert decoded.content_type.startswith("image/")


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "CMYK", "1"])
def test_every_mode_converts_to_rgb(chelsea, mode):
    fmt = "JPEG" if mode == "CMYK" else "TIFF" if mode == "1" else "PNG"
    decoded = decode_image(encode(chelsea.convert(mode), fmt))
    assert decoded.image.mode == "RGB"
    assert (decoded.width, decoded.height) == chelsea.size
    arr = np.asarray(decoded.image)
    assert arr.std() > 10, "the picture must survive the conversion, not become a flat colour"


def test_16_bit_greyscale_keeps_its_contrast(chelsea):
    grey = np.asarray(chelsea.convert("L"), dtype=np.uint16) * 257  # full 16-bit range
    decoded = decode_image(encode(Image.fromarray(grey), "PNG"))  # mode I;16
    arr = np.asarray(decoded.image)[..., 0].astype(int)
    assert np.abs(arr - np.asarray(chelsea.convert("L"), dtype=int)).max() <= 1


def test_transparent_pixels_become_white_not_black(chelsea):
    rgba = chelsea.convert("RGBA")
    alpha = np.full(rgba.size[::-1], 255, np.uint8)
    alpha[:50, :50] = 0
    rgba.putalpha(Image.fromarray(alpha))
    arr = np.asarray(decode_image(encode(rgba, "PNG")).image)
    assert (arr[:50, :50] == 255).all()


def test_animated_gif_uses_its_first_frame(chelsea):
    frames = [chelsea, Image.new("RGB", chelsea.size, (0, 0, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    arr = np.asarray(decode_image(buf.getvalue()).image)
    assert arr.std() > 10


@pytest.mark.parametrize("orientation,swapped", [(1, False), (3, False), (6, True), (8, True)])
def test_exif_orientation_is_applied_and_size_reported_as_seen(chelsea, orientation, swapped):
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = decode_image(encode(chelsea, "JPEG", exif=exif.tobytes()))
    w, h = chelsea.size
    assert (decoded.width, decoded.height) == ((h, w) if swapped else (w, h))
    # The decoded picture has the seen aspect too (it may be a reduced-scale draft).
    iw, ih = decoded.image.size
    assert (iw > ih) == (decoded.width > decoded.height)


def test_jpeg_decodes_at_reduced_scale_but_reports_original_size():
    big = Image.fromarray(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8))
    decoded = decode_image(encode(big, "JPEG"), min_side=160)
    assert (decoded.width, decoded.height) == (640, 480)
    assert decoded.image.size == (320, 240)
    assert decode_image(encode(big, "JPEG"), min_side=None).image.size == (640, 480)


# --- bad input: one typed error each, with the status the API answers -------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` with a few bytes of pixel data: a bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "make,reason,status",
    [
        (lambda c: b"", Reason.EMPTY, 400),
        (lambda c: b"hello, this is text, not a picture", Reason.NOT_AN_IMAGE, 400),
        (lambda c: encode(c, "JPEG")[:2000], Reason.TRUNCATED, 400),
        (lambda c: encode(c, "PNG")[:3000], Reason.TRUNCATED, 400),
        (lambda c: encode(c, "ICO"), Reason.UNSUPPORTED_FORMAT, 415),
        (lambda c: encode(c, "PPM"), Reason.UNSUPPORTED_FORMAT, 415),
        (lambda c: b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, Reason.UNSUPPORTED_FORMAT, 415),
        (lambda c: b"%PDF-1.7\n" + b"\x00" * 64, Reason.UNSUPPORTED_FORMAT, 415),
        (lambda c: _png_header_only(50_000, 50_000), Reason.TOO_MANY_PIXELS, 413),
        (lambda c: _png_header_only(8_000, 8_000), Reason.TOO_MANY_PIXELS, 413),
    ],
    ids=["empty", "text", "truncated-jpeg", "truncated-png", "ico", "ppm", "heic", "pdf", "pixel-bomb", "64mp"],
)
def test_bad_input_raises_one_typed_error(chelsea, make, reason, status):
    with pytest.raises(InvalidImageError) as info:
        decode_image(make(chelsea))
    assert info.value.reason is reason
    assert info.value.status == status
    assert info.value.to_dict() == {"error": reason.value, "message": info.value.message}
    assert len(info.value.message) > 20


def test_too_many_bytes_is_413_before_decoding(chelsea):
    data = encode(chelsea, "PNG")
    with pytest.raises(InvalidImageError) as info:
        decode_image(data, max_bytes=len(data) - 1)
    assert info.value.status == 413 and info.value.reason is Reason.TOO_LARGE


def test_pixel_limit_is_configurable(chelsea):
    with pytest.raises(InvalidImageError) as info:
        decode_image(encode(chelsea, "PNG"), max_pixels=451 * 300 - 1)
    assert info.value.reason is Reason.TOO_MANY_PIXELS
