"""The one error bad input raises, with what a caller needs to answer it.

The API maps ``status`` straight to the HTTP response and shows ``message``
to the caller; the CLI prints ``message`` and exits non-zero. ``code`` is a
stable machine-readable word for clients and metrics.
"""

from __future__ import annotations

from enum import Enum


class Reason(str, Enum):
    """Why an image was rejected; each maps to one HTTP status."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_AN_IMAGE = "not_an_image"
    UNSUPPORTED_FORMAT = "unsupported_format"
    TRUNCATED = "truncated"
    TOO_MANY_PIXELS = "too_many_pixels"

    @property
    def status(self) -> int:
        return _STATUS[self]


_STATUS = {
    Reason.EMPTY: 400,
    Reason.NOT_AN_IMAGE: 400,
    Reason.TRUNCATED: 400,
    Reason.TOO_LARGE: 413,
    Reason.TOO_MANY_PIXELS: 413,
    Reason.UNSUPPORTED_FORMAT: 415,
}


class InvalidImageError(ValueError):
    """The input cannot be used as an image; ``message`` says why and what to send instead."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    @property
    def status(self) -> int:
        return self.reason.status

    @property
    def code(self) -> str:
        return self.reason.value

    def to_dict(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}
