"""The Observe token: masked everywhere, read from Secrets Manager, SSM or the environment."""

from __future__ import annotations

import json
import pickle

import boto3
import pytest
from modelobs.observe_secret import MASK, Secret, token_from_env
from moto import mock_aws

TOKEN = "abcdefghij0123456789:SECRETsecretSECRETsecretSECRET12"


def test_secret_never_prints_itself():
    s = Secret(TOKEN)
    for text in (repr(s), str(s), f"{s}", f"{s!r}", repr([s]), repr({"t": s})):
        assert TOKEN not in text and MASK in text
    assert s.reveal() == TOKEN


def test_redact_scrubs_the_token_from_any_text():
    s = Secret(TOKEN)
    assert s.redact(f"header was Bearer {TOKEN} twice {TOKEN}") == f"header was Bearer {MASK} twice {MASK}"
    assert s.redact("") == ""


def test_secret_refuses_pickling_and_emptiness():
    with pytest.raises(TypeError):
        pickle.dumps(Secret(TOKEN))
    for empty in ("", "   "):
        with pytest.raises(ValueError):
            Secret(empty)


def test_secret_equality_without_revealing():
    assert Secret(TOKEN) == Secret(f" {TOKEN}\n")
    assert Secret(TOKEN) != Secret("other")


@pytest.fixture
def aws(monkeypatch):
    for k, v in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield boto3.session.Session()


@pytest.mark.parametrize("stored", [TOKEN, json.dumps({"token": TOKEN}), f"{TOKEN}\n"])
def test_token_from_secrets_manager(aws, stored):
    arn = aws.client("secretsmanager").create_secret(Name="modelobs/observe-token", SecretString=stored)["ARN"]
    assert token_from_env({"OBSERVE_TOKEN_SECRET_ID": arn}, session=aws).reveal() == TOKEN


def test_token_from_ssm_securestring(aws):
    aws.client("ssm").put_parameter(Name="/modelobs/observe-token", Value=TOKEN, Type="SecureString")
    assert token_from_env({"OBSERVE_TOKEN_PARAMETER": "/modelobs/observe-token"}, session=aws).reveal() == TOKEN


def test_token_from_plain_env_and_precedence(aws):
    assert token_from_env({"OBSERVE_TOKEN": TOKEN}).reveal() == TOKEN
    aws.client("secretsmanager").create_secret(Name="t", SecretString="from-secret")
    env = {"OBSERVE_TOKEN_SECRET_ID": "t", "OBSERVE_TOKEN": TOKEN}
    assert token_from_env(env, session=aws).reveal() == "from-secret"


def test_no_token_says_where_to_put_one():
    with pytest.raises(ValueError, match="OBSERVE_TOKEN_SECRET_ID"):
        token_from_env({})
