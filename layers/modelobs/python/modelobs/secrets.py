"""Read secrets (API keys, webhook secrets) from Secrets Manager, once per execution environment.

Secrets never sit in template text or environment values on AWS: the
template passes a secret's ARN, the function reads the value here. The
cache is per process and short-lived, so a rotated secret is picked up
within minutes without a redeploy.
"""

from __future__ import annotations

import json
import time
from typing import Any

_CACHE: dict[str, tuple[float, str]] = {}
TTL_S = 300.0


class SecretNotConfiguredError(RuntimeError):
    """The function was deployed without the secret it needs; the message names the setting."""


def unwrap(value: str, key: str | None = None) -> str:
    """A secret stored as the plain string, or as a JSON object: its ``key`` field, or its only field."""
    text = value.strip()
    if not text.startswith("{"):
        return text
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if not isinstance(doc, dict):
        return text
    if key is not None and isinstance(doc.get(key), str):
        return doc[key]
    if len(doc) == 1 and isinstance(next(iter(doc.values())), str):
        return next(iter(doc.values()))
    return text


def secret_value(secret_id: str | None, *, setting: str, key: str | None = None, client: Any = None) -> str:
    """The secret string of ``secret_id`` (or its JSON field ``key``); ``setting`` names the variable for errors."""
    if not secret_id:
        raise SecretNotConfiguredError(f"{setting} is not set: deploy with the secret's ARN (README: secrets)")
    now = time.monotonic()
    cached = _CACHE.get(secret_id)
    if cached and now - cached[0] < TTL_S:
        raw = cached[1]
    else:
        if client is None:
            import boto3

            client = boto3.client("secretsmanager")
        raw = client.get_secret_value(SecretId=secret_id)["SecretString"]
        _CACHE[secret_id] = (now, raw)
    return unwrap(raw, key)


def forget() -> None:
    """Drop cached values (tests, or after a 401 that may mean the secret was rotated)."""
    _CACHE.clear()
