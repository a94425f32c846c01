"""Fixtures for tests against the embedded LocalStack (host mode, no Docker).

API for integration tests:

* ``localstack`` (session): the endpoint URL, e.g. ``"http://127.0.0.1:4566"``. Starts
  LocalStack with ``local/cloudctl.py up`` unless one already answers (then it is reused
  and left running); stops at the end only what it started. ``LOCALSTACK_ENDPOINT=<url>``
  points the tests at some other LocalStack without starting anything.
* ``aws_session`` (session): a ``boto3.Session`` with LocalStack's test credentials.
* ``aws_client`` (session): factory, ``aws_client("s3")`` -> a boto3 client on LocalStack.
* ``emulators`` (session): the Labelbox emulator and the Observe collector, started if not
  up (and then stopped at the end); yields the ``local/services.py`` module.
* ``stack`` (session): the SAM stack built and deployed to LocalStack once per session
  (``local/stack.py``); yields its facts: ``api_url``, ``bucket``, ``functions`` ...
* ``lambda_function`` (function): factory that zips files, creates a function (and its
  layers), waits until it is Active and deletes it after the test; returns its name.

Plain helpers (``zip_bytes``, ``unique``, ``log_lines``, ``function_processes``) live in
``tests/integration/lsutil.py``: ``from tests.integration.lsutil import log_lines``.

The first use runs ``make localstack-venv lambda-runtimes`` (a no-op when up to date),
so an edited executor is reinstalled before LocalStack starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import boto3
import pytest
from botocore.config import Config

from tests.integration.lsutil import CLOUDCTL, ROOT, unique, zip_bytes

sys.path.insert(0, str(ROOT / "local"))
import cloudctl  # noqa: E402  (stdlib-only, beside the code it manages)

REGION = "us-east-1"
ACCOUNT = "000000000000"
LAMBDA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-test-role"


def _cloudctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CLOUDCTL), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def _ensure_built() -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "localstack-venv", "lambda-runtimes"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the local cloud failed:\n{proc.stdout}\n{proc.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def localstack() -> Iterator[str]:
    """Endpoint of a healthy LocalStack; started (and later stopped) here if needed."""
    external = os.environ.get("LOCALSTACK_ENDPOINT")
    if external:
        yield external.rstrip("/")
        return
    if cloudctl.healthy() is not None:
        yield cloudctl.ENDPOINT
        return
    _ensure_built()
    up = _cloudctl("up")
    if up.returncode != 0:
        pytest.fail(f"LocalStack did not start:\n{up.stdout}\n{up.stderr}", pytrace=False)
    try:
        yield cloudctl.ENDPOINT
    finally:
        down = _cloudctl("down")
        if down.returncode != 0:
            print(f"cloudctl down failed:\n{down.stdout}\n{down.stderr}", file=sys.stderr)


@pytest.fixture(scope="session")
def aws_session(localstack: str) -> boto3.Session:
    return boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)


@pytest.fixture(scope="session")
def aws_client(localstack: str, aws_session: boto3.Session) -> Callable[..., object]:
    """``aws_client("lambda")``: a client on LocalStack. Long read timeout for invokes."""

    def make(service: str, **kwargs):
        config = Config(read_timeout=120, retries={"max_attempts": 2, "mode": "standard"})
        return aws_session.client(service, endpoint_url=localstack, config=config, **kwargs)

    return make


@pytest.fixture
def lambda_function(aws_client) -> Iterator[Callable[..., str]]:
    """Factory: ``lambda_function({"app.py": src}, layers=[{"python/x.py": src}], Timeout=2)``.

    Layers are published (in the given order) and attached; keyword arguments go to
    CreateFunction. Returns the function name; the function and its layers are deleted
    after the test, which also stops its execution environments.
    """
    lam = aws_client("lambda")
    created: list[str] = []
    layers_created: list[tuple[str, int]] = []

    def create(files: dict[str, str | bytes], layers: list[dict[str, str | bytes]] | None = None, **kwargs) -> str:
        name = kwargs.pop("FunctionName", None) or unique("fn")
        layer_arns = []
        for i, layer_files in enumerate(layers or []):
            layer_name = f"{name}-layer{i}"
            resp = lam.publish_layer_version(
                LayerName=layer_name,
                Content={"ZipFile": zip_bytes(layer_files)},
                CompatibleRuntimes=["python3.12"],
            )
            layers_created.append((layer_name, resp["Version"]))
            layer_arns.append(resp["LayerVersionArn"])
        params = {
            "FunctionName": name,
            "Runtime": "python3.12",
            "Role": LAMBDA_ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": zip_bytes(files)},
            "Timeout": 10,
            "MemorySize": 256,
            **({"Layers": layer_arns} if layer_arns else {}),
            **kwargs,
        }
        lam.create_function(**params)
        created.append(name)
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
        return name

    yield create
    for name in created:
        try:
            lam.delete_function(FunctionName=name)
        except Exception as e:  # best effort: LocalStack may be going down
            print(f"could not delete {name}: {e}", file=sys.stderr)
    for layer_name, version in layers_created:
        try:
            lam.delete_layer_version(LayerName=layer_name, VersionNumber=version)
        except Exception:
            pass


@pytest.fixture(scope="session")
def emulators(localstack: str):
    """The SaaS emulators the stack talks to, started here unless already up."""
    import services

    others = [s for s in services.SERVICES if s.name != "LocalStack"]
    try:
        started = services.up(others)
    except services.StartError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield services
    services.down(started)


@pytest.fixture(scope="session")
def stack(localstack: str, emulators) -> dict:
    """Deploy the SAM stack once per test session (a redeploy of an existing stack is an update)."""
    import stack as stack_module

    made = subprocess.run(["make", "--no-print-directory", "venv-sam"], cwd=ROOT, capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(f"make venv-sam failed:\n{made.stdout}\n{made.stderr}", pytrace=False)
    # Sample every prediction: the review loop's tests need a sampled capture on demand.
    # (The sampling policy itself is tested at unit level; the demo deploys the defaults.)
    return stack_module.deploy(SAMPLE_EVERYTHING)


SAMPLE_EVERYTHING = {
    "SamplingBaseRate": "1",
    "SamplingUncertainRate": "1",
    "SamplingEmptyRate": "1",
    "SamplingDailyBudget": "100000",
}
