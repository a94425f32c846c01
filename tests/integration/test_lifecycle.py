"""Stopping LocalStack, cleanly or by a crash, leaves no Lambda process behind.

Runs a second, private LocalStack (own port and state dir) so that the session's
instance is not disturbed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from tests.integration.lsutil import CLOUDCTL, ROOT, function_processes, unique, zip_bytes

SRC = "import subprocess\nsubprocess.Popen(['sleep', '303'])\ndef handler(event, context):\n    return 'up'\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_localstack(localstack: str, tmp_path: Path):
    """(endpoint, env, run) of a LocalStack that only this test uses; stopped at the end.

    Depends on ``localstack`` only so that the venvs are built first."""
    port = _free_port()
    env = {**os.environ, "MODELOBS_LOCAL_DIR": str(tmp_path / "local"), "LOCALSTACK_PORT": str(port)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(CLOUDCTL), *args], cwd=ROOT, env=env, capture_output=True, text=True)

    up = run("up")
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield f"http://127.0.0.1:{port}", tmp_path / "local", run
    finally:
        run("down")


def _start_function(endpoint: str) -> str:
    lam = boto3.client(
        "lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    name = unique("lifecycle")
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/r",
        Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": SRC})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    resp = lam.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(resp["Payload"].read()) == "up"
    assert len(function_processes(name)) >= 3, "init, runtime, and the handler's child"
    return name


def _wait_gone(name: str, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and function_processes(name):
        time.sleep(0.2)
    return function_processes(name)


def test_down_stops_localstack_and_every_lambda_process(private_localstack) -> None:
    endpoint, _, run = private_localstack
    name = _start_function(endpoint)
    down = run("down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert function_processes(name) == []
    port = int(endpoint.rsplit(":", 1)[1])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "port released"


def test_lambda_processes_exit_when_localstack_crashes(private_localstack) -> None:
    endpoint, state, run = private_localstack
    name = _start_function(endpoint)
    pid = json.loads((state / "localstack" / "localstack.pid.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)  # LocalStack alone: no chance to stop its environments
    assert _wait_gone(name, 5) == []
