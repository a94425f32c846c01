"""Webhook signature check: Labelbox's HMAC over the raw body, SHA-256 preferred, constant-time, with reasons."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from modelobs.labelbox_signature import sign, verify_signature

SECRET = "s3cret-for-tests"
BODY = b'{"data_row":{"id":"dr1","global_key":"cap-1"},"projects":{}}'


def _sha1(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def _sha256(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_sha1_only_delivery_is_accepted():
    check = verify_signature(SECRET, BODY, {"X-Hub-Signature": _sha1(SECRET, BODY)})
    assert check and check.scheme == "sha1"


def test_sha256_is_preferred_when_both_are_present():
    check = verify_signature(SECRET, BODY, {"X-Hub-Signature": _sha1(SECRET, BODY), "X-Hub-Signature-256": _sha256(SECRET, BODY)})
    assert check and check.scheme == "sha256"


def test_bad_sha256_fails_even_beside_a_good_sha1():
    headers = {"X-Hub-Signature": _sha1(SECRET, BODY), "X-Hub-Signature-256": _sha256("other", BODY)}
    check = verify_signature(SECRET, BODY, headers)
    assert not check and check.scheme == "sha256"
    assert "does not match" in check.reason


def test_headers_are_case_insensitive_as_api_gateway_lowercases_them():
    assert verify_signature(SECRET, BODY, {"x-hub-signature-256": _sha256(SECRET, BODY)})


def test_str_body_and_bytes_secret_are_accepted():
    assert verify_signature(SECRET.encode(), BODY.decode(), {"X-Hub-Signature": _sha1(SECRET, BODY)})


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing signature"),
        (None, "missing signature"),
        ({"X-Hub-Signature": "sha1=deadbeef"}, "malformed"),
        ({"X-Hub-Signature": "md5=" + "0" * 40}, "malformed"),
        ({"X-Hub-Signature-256": _sha1(SECRET, BODY)}, "malformed"),
        ({"X-Hub-Signature": _sha1("wrong-secret", BODY)}, "does not match"),
        ({"X-Hub-Signature": _sha1(SECRET, BODY + b" ")}, "does not match"),
    ],
)
def test_forged_or_missing_signatures_are_rejected_with_a_reason(headers, reason):
    check = verify_signature(SECRET, BODY, headers)
    assert not check
    assert reason in check.reason
    assert SECRET not in check.reason


def test_no_secret_configured_refuses_everything():
    check = verify_signature("", BODY, {"X-Hub-Signature": _sha1("", BODY)})
    assert not check and "no webhook secret" in check.reason


def test_sign_produces_what_verify_accepts():
    assert sign(SECRET, BODY) == _sha256(SECRET, BODY)
    assert sign(SECRET, BODY, "sha1") == _sha1(SECRET, BODY)
    assert verify_signature(SECRET, BODY, {"X-Hub-Signature-256": sign(SECRET, BODY)})
