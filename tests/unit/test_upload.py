"""Getting the image out of an API Gateway event: raw bodies, base64, multipart forms."""

from __future__ import annotations

import base64
import uuid

import pytest
from modelobs.errors import InvalidImageError
from modelobs.upload import MalformedRequestError, event_body, header, image_bytes

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # binary, with CR/LF and NUL bytes inside


def form(fields: dict[str, tuple[str | None, bytes]], boundary: str | None = None) -> tuple[bytes, str]:
    """Encode a multipart/form-data body the way browsers and requests do."""
    boundary = boundary or uuid.uuid4().hex
    parts = []
    for name, (filename, data) in fields.items():
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        parts.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + data + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_base64_event_body_is_decoded():
    assert event_body({"body": base64.b64encode(PNG).decode(), "isBase64Encoded": True}) == PNG


def test_text_event_body_is_utf8_encoded():
    assert event_body({"body": "héllo", "isBase64Encoded": False}) == "héllo".encode()
    assert event_body({"body": None}) == b""


def test_bad_base64_is_a_malformed_request():
    with pytest.raises(MalformedRequestError):
        event_body({"body": "not base64 !!", "isBase64Encoded": True})


def test_raw_body_is_the_image_whatever_its_content_type():
    assert image_bytes(PNG, "image/png") == PNG
    assert image_bytes(PNG, "application/octet-stream") == PNG
    assert image_bytes(PNG, None) == PNG


def test_multipart_image_field_is_extracted_byte_for_byte():
    body, ctype = form({"note": (None, b"hello"), "image": ("cat.png", PNG)})
    assert image_bytes(body, ctype) == PNG


def test_multipart_without_image_field_names_the_field():
    body, ctype = form({"file": ("cat.png", PNG)})
    with pytest.raises(MalformedRequestError, match="'image'"):
        image_bytes(body, ctype)


def test_multipart_without_boundary_is_malformed():
    with pytest.raises(MalformedRequestError, match="boundary"):
        image_bytes(b"--x\r\n", "multipart/form-data")


def test_empty_multipart_body_is_an_empty_image():
    with pytest.raises(InvalidImageError):
        image_bytes(b"", "multipart/form-data; boundary=abc")


def test_headers_are_case_insensitive():
    assert header({"content-TYPE": "image/jpeg"}, "Content-Type") == "image/jpeg"
    assert header(None, "Content-Type") is None
