"""Is this webhook delivery from Labelbox? Check its HMAC signature over the raw body.

Labelbox signs every delivery with the webhook's secret:
``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>`` and, on current
deliveries, ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256>``. When the
SHA-256 header is present it is the one checked (and must match on its own:
a good SHA-1 beside a bad SHA-256 is a forgery attempt, not a fallback).
Comparison is constant-time (``hmac.compare_digest``) so the check leaks
nothing about how much of a guess was right.

The body must be the exact bytes received: re-serialized JSON has different
bytes and fails. Headers are looked up case-insensitively (API Gateway and
HTTP/2 lower-case them). Stdlib only: the webhook Lambda checks the signature
before it imports the SDK, so a flood of forged requests costs little.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["SignatureCheck", "verify_signature", "sign"]

SHA1_HEADER = "x-hub-signature"
SHA256_HEADER = "x-hub-signature-256"
_HEX = {"sha1": re.compile(r"^[0-9a-f]{40}$"), "sha256": re.compile(r"^[0-9a-f]{64}$")}
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}


@dataclass(frozen=True)
class SignatureCheck:
    """The verdict: truthy when valid; ``reason`` says why not (safe to log, never the secret)."""

    ok: bool
    reason: str
    scheme: str | None = None  # "sha256" or "sha1": which header decided

    def __bool__(self) -> bool:
        return self.ok


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: str | bytes, body: bytes, scheme: str = "sha256") -> str:
    """The header value Labelbox would send for ``body`` (``sha256=<hex>`` or ``sha1=<hex>``)."""
    return f"{scheme}=" + hmac.new(_as_bytes(secret), body, _DIGESTS[scheme]).hexdigest()


def verify_signature(secret: str | bytes, body: bytes | str, headers: Mapping[str, str] | None) -> SignatureCheck:
    """Check the delivery's signature header against ``secret``; prefer SHA-256 when present."""
    if not secret:
        return SignatureCheck(False, "no webhook secret is configured; refusing every delivery")
    lower = {str(k).lower(): v for k, v in (headers or {}).items()}
    if SHA256_HEADER in lower:
        scheme, header = "sha256", SHA256_HEADER
    elif SHA1_HEADER in lower:
        scheme, header = "sha1", SHA1_HEADER
    else:
        return SignatureCheck(False, "missing signature: neither X-Hub-Signature-256 nor X-Hub-Signature is present")
    value = str(lower[header] or "").strip()
    prefix, _, given = value.partition("=")
    given = given.lower()
    if prefix.lower() != scheme or not _HEX[scheme].match(given):
        return SignatureCheck(False, f"malformed {header} header: expected '{scheme}=<hex digest>'", scheme)
    expected = hmac.new(_as_bytes(secret), _as_bytes(body), _DIGESTS[scheme]).hexdigest()
    if not hmac.compare_digest(expected, given):
        return SignatureCheck(False, f"{header} does not match the body (wrong secret, or the body was altered)", scheme)
    return SignatureCheck(True, f"valid {scheme} signature", scheme)
