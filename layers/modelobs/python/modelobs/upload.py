"""Get the image bytes out of an HTTP request: a raw body or a multipart form.

The original project's client posted a multipart form with the field
``image``; ``curl --data-binary @cat.jpg -H 'Content-Type: image/jpeg'``
sends the bytes raw. Both are accepted. The ``Content-Type`` of a raw body is
not trusted: the bytes are sniffed by the decoder, so a mislabelled JPEG
still works and a text body is rejected as "not an image".
"""

from __future__ import annotations

import base64
import binascii
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from .errors import InvalidImageError, Reason

FORM_FIELD = "image"


class MalformedRequestError(ValueError):
    """The request is not what the API takes; the message says what to send. Answered with 400."""

    status = 400
    code = "malformed_request"

    def to_dict(self) -> dict[str, str]:
        return {"error": self.code, "message": str(self)}


def header(headers: dict[str, str] | None, name: str) -> str | None:
    """A header by case-insensitive name (API Gateway keeps the client's spelling)."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def event_body(event: dict[str, Any]) -> bytes:
    """The raw body of an API Gateway proxy event (binary media types arrive base64-encoded)."""
    body = event.get("body")
    if body is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedRequestError(f"The body is marked base64 but is not valid base64: {exc}") from None
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def image_bytes(body: bytes, content_type: str | None) -> bytes:
    """The image in a request: the ``image`` part of a multipart form, else the body itself."""
    if content_type and content_type.split(";")[0].strip().lower() == "multipart/form-data":
        return _form_image(body, content_type)
    return body


def _form_image(body: bytes, content_type: str) -> bytes:
    if "boundary=" not in content_type:
        raise MalformedRequestError("multipart/form-data without a boundary: let your HTTP client build the form.")
    if not body:
        raise InvalidImageError(Reason.EMPTY, "The form is empty: send the image in a field named 'image'.")
    message: Message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body
    )
    if not message.is_multipart() or message.defects:
        raise MalformedRequestError("The multipart form could not be parsed: check the boundary and the body.")
    names = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        names.append(name)
        if name == FORM_FIELD:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    raise MalformedRequestError(
        f"The form has no field named {FORM_FIELD!r} (it has {[n for n in names if n]}): send the image as 'image'."
    )
