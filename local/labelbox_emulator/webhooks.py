"""Webhook deliveries the way Labelbox makes them: signed POSTs with a delivery id.

Headers: ``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>`` and
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`` keyed with the webhook's
secret, ``X-Labelbox-Id`` (one id per delivery, kept on redelivery so a
receiver can deduplicate) and ``X-Labelbox-Event`` (the topic).

The body is serialized once and stored with the delivery, so a redelivery
sends the same bytes (and therefore the same signatures) again. Sending
happens outside the store lock: the receiver (the webhook Lambda) may call
back into the emulator to export the label while the POST is in flight.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from typing import Any, Mapping

USER_AGENT = "Labelbox-Webhooks/emulator"


def signature_headers(secret: str, body: bytes) -> dict[str, str]:
    """The two signature headers Labelbox sends for ``body`` (computed independently of modelobs)."""
    key = secret.encode("utf-8")
    return {
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


def send(delivery: Mapping[str, Any], secret: str, timeout: float) -> dict[str, Any]:
    """POST one delivery; return the attempt record (receiver status or the connection error)."""
    body = delivery["body"].encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Labelbox-Id": delivery["id"],
        "X-Labelbox-Event": delivery["event"],
        **signature_headers(secret, body),
    }
    req = urllib.request.Request(delivery["url"], data=body, headers=headers, method="POST")
    started = time.monotonic()
    attempt: dict[str, Any] = {"status": None, "error": None, "response": None}
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URL registered by the user
            attempt["status"] = resp.status
            attempt["response"] = resp.read(2048).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        attempt["status"] = exc.code
        attempt["response"] = exc.read(2048).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        attempt["error"] = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    attempt["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    return attempt
