"""The SAM template: cfn-lint clean, and the properties the system relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict:
    tpl, matches = decode(str(ROOT / "template.yaml"))
    assert not matches, matches
    return tpl


def functions(template: dict) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_cfn_lint_passes():
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_runs_python312_x86_64_with_its_code_folder(template):
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"
    assert template["Globals"]["Function"]["Architectures"] == ["x86_64"]
    for name, props in functions(template).items():
        assert (ROOT / props["CodeUri"] / "app.py").is_file(), name
        assert props["Handler"] == "app.handler"


def test_api_is_rest_with_binary_media_types(template):
    api = template["Resources"]["Api"]
    assert api["Type"] == "AWS::Serverless::Api"  # REST (v1): HTTP APIs are not in community LocalStack
    assert "image~1*" in api["Properties"]["BinaryMediaTypes"]


def test_bucket_is_encrypted_and_private(template):
    props = template["Resources"]["CaptureBucket"]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(props["PublicAccessBlockConfiguration"].values())


def test_secrets_come_by_arn_never_as_values(template):
    for name, param in template["Parameters"].items():
        if "Secret" in name:
            assert "Default" not in param, name
    for props in functions(template).values():
        for key, value in props.get("Environment", {}).get("Variables", {}).items():
            if any(word in key for word in ("SECRET", "TOKEN", "API_KEY", "PASSWORD")):
                assert key.endswith("_SECRET_ID") and isinstance(value, dict), (key, value)  # a Ref to an ARN


def test_no_policy_grants_everything(template):
    for name, props in functions(template).items():
        for policy in props.get("Policies", []):
            for statement in policy.get("Statement", []):
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert "*" not in actions and not any(a.endswith(":*") for a in actions), (name, statement)
                assert statement.get("Resource") != "*", (name, statement)


def test_async_functions_do_not_lose_events(template):
    sampler = functions(template)["SamplerFunction"]
    assert sampler["DeadLetterQueue"]["Type"] == "SQS"
    assert sampler["EventInvokeConfig"]["MaximumRetryAttempts"] == 2
