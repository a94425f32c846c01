#!/usr/bin/env python3
"""Build the SAM application and deploy it to the local cloud (LocalStack).

    .venv/bin/python local/stack.py deploy     # sam build + sam deploy --config-env local
    .venv/bin/python local/stack.py outputs    # print the deployed stack's outputs as JSON

The same `template.yaml` and `samconfig.toml` that deploy to AWS deploy here:
the SAM CLI honours ``AWS_ENDPOINT_URL``, so pointing it at LocalStack is the
only difference (no samlocal wrapper). The deployment's facts (API URL,
bucket, function names) are written to ``.local/stack.json`` for the demo and
the tests; the last line printed is ``API: <base url>``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("MODELOBS_LOCAL_DIR", ROOT / ".local"))
STACK_FILE = STATE / "stack.json"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
STACK_NAME = "modelobs"
REGION = "us-east-1"
ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")
ARTIFACTS_BUCKET = "modelobs-sam-artifacts"
OBSERVE_PORT = int(os.environ.get("OBSERVE_PORT", "8491"))
OBSERVE_SECRET_NAME = "modelobs/local/observe-token"
LABELBOX_PORT = int(os.environ.get("LABELBOX_EMULATOR_PORT", "8490"))
LABELBOX_API_URL = f"http://127.0.0.1:{LABELBOX_PORT}"
LABELBOX_KEY_SECRET_NAME = "modelobs/local/labelbox-api-key"
LABELBOX_WEBHOOK_SECRET_NAME = "modelobs/local/labelbox-webhook-secret"
#: The emulator accepts any key; the webhook secret is fixed so redeploys keep verifying.
LOCAL_LABELBOX_KEY = "local-emulator-api-key"
LOCAL_WEBHOOK_SECRET = "local-webhook-secret-not-for-production"


def local_env() -> dict[str, str]:
    """The caller's environment pointed at LocalStack, with python3.12 first on PATH for `sam build`."""
    env = dict(os.environ)
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "AWS_PROFILE"):
        env.pop(key, None)
    python312 = subprocess.run(
        [str(ROOT / "scripts" / "find-python"), "3.12"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env.update(
        {
            "AWS_ENDPOINT_URL": ENDPOINT,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "SAM_CLI_TELEMETRY": "0",
            "PATH": f"{Path(python312).parent}:{env.get('PATH', '')}",
        }
    )
    return env


def client(service: str) -> Any:
    return boto3.client(
        service, endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 3}),
    )


def run(cmd: list[str], env: dict[str, str], what: str) -> None:
    print(f"==> {what}", flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        sys.exit(f"{what} failed (exit {proc.returncode}):\n{tail}")
    print(f"    done in {time.monotonic() - started:.1f}s", flush=True)


def api_base_url(rest_api_id: str, stage: str) -> str:
    """LocalStack's path-style execute-api URL (its host-style one needs DNS for localstack.cloud)."""
    return f"{ENDPOINT}/_aws/execute-api/{rest_api_id}/{stage}"


def outputs() -> dict[str, Any]:
    """Facts about the deployed stack, read from CloudFormation."""
    cfn = client("cloudformation")
    stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    out = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=STACK_NAME)["StackResources"]
    }
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    stage = params.get("Stage", "local")
    return {
        "stack": STACK_NAME,
        "endpoint": ENDPOINT,
        "region": REGION,
        "api_url": api_base_url(resources["Api"], stage),
        "bucket": out["BucketName"],
        "functions": {k: v for k, v in resources.items() if k.endswith("Function")},
        "outputs": out,
    }


def ensure_secret(name: str, value: str) -> str:
    """Create or update a Secrets Manager secret on the local cloud; returns its ARN.

    The stack takes secrets by ARN, as on AWS, where the operator creates them
    once (README: connecting real Labelbox and Observe).
    """
    sm = client("secretsmanager")
    try:
        arn = sm.describe_secret(SecretId=name)["ARN"]
        sm.put_secret_value(SecretId=name, SecretString=value)
        return arn
    except sm.exceptions.ResourceNotFoundException:
        return sm.create_secret(Name=name, SecretString=value)["ARN"]


def parameter_overrides(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The stack's parameters on the local cloud: the emulators' loopback URLs and local secrets."""
    sys.path.insert(0, str(ROOT / "local"))
    from observe_collector import LOCAL_TOKEN

    return {
        "Stage": "local",
        "LogRetentionDays": "7",
        "ObserveEndpoint": f"http://127.0.0.1:{OBSERVE_PORT}",
        "ObserveTokenSecretArn": ensure_secret(OBSERVE_SECRET_NAME, LOCAL_TOKEN),
        "LabelboxApiUrl": LABELBOX_API_URL,
        "LabelboxApiKeySecretArn": ensure_secret(LABELBOX_KEY_SECRET_NAME, LOCAL_LABELBOX_KEY),
        "LabelboxWebhookSecretArn": ensure_secret(LABELBOX_WEBHOOK_SECRET_NAME, LOCAL_WEBHOOK_SECRET),
        **(extra or {}),
    }


def labelbox_setup(facts: dict[str, Any]) -> dict[str, Any]:
    """`modelobs labelbox setup` against the emulator, webhook pointing at the deployed API."""
    from modelobs.labelbox_connect import connect
    from modelobs.labelbox_setup import ensure_setup

    webhook_url = facts["api_url"] + "/webhooks/labelbox"
    print(f"==> modelobs labelbox setup (emulator {LABELBOX_API_URL}, webhook {webhook_url})", flush=True)
    ids = ensure_setup(
        connect(api_key=LOCAL_LABELBOX_KEY, api_url=LABELBOX_API_URL), "modelobs-captures", "modelobs-review",
        webhook_url=webhook_url, webhook_secret=LOCAL_WEBHOOK_SECRET, replace_webhook=True,
    )
    client("ssm").put_parameter(Name=facts["outputs"]["LabelboxIdsParameter"], Value=json.dumps(ids.to_dict()),
                                Type="String", Overwrite=True)
    return ids.to_dict()


def deploy(extra_parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """Build and deploy; ``extra_parameters`` override template parameters (e.g. sampling rates)."""
    env = local_env()
    if not SAM.exists():
        sys.exit(f"{SAM} not found: run `make venv-sam` first")
    s3 = client("s3")
    if ARTIFACTS_BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    overrides = " ".join(f"{k}={v}" for k, v in parameter_overrides(extra_parameters).items())
    run([str(SAM), "build", "--config-env", "local"], env, "sam build (layers trimmed and smoke-tested)")
    run(
        [str(SAM), "deploy", "--config-env", "local", "--no-progressbar",
         "--s3-bucket", ARTIFACTS_BUCKET, "--no-resolve-s3", "--parameter-overrides", overrides],
        env,
        f"sam deploy --config-env local (stack {STACK_NAME} on {ENDPOINT})",
    )
    facts = outputs()
    facts["labelbox"] = labelbox_setup(facts)
    STATE.mkdir(parents=True, exist_ok=True)
    STACK_FILE.write_text(json.dumps(facts, indent=2) + "\n")
    return facts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["deploy", "outputs"])
    args = parser.parse_args()
    facts = deploy() if args.command == "deploy" else outputs()
    if args.command == "outputs":
        print(json.dumps(facts, indent=2))
    print(f"Bucket: {facts['bucket']}")
    print(f"API: {facts['api_url']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
