"""The no-Docker Lambda executor behaves as AWS Lambda does, seen through the Lambda API."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.lsutil import function_processes, log_lines, unique

HELLO = """
import os, sys
print("init: module loaded")

def handler(event, context):
    print("handling", event)
    return {
        "hello": event.get("name", "world"),
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "env": {k: os.environ.get(k) for k in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "_HANDLER", "LAMBDA_TASK_ROOT",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL", "LAMBDA_OPT_DIR",
            "GREETING")},
        "cwd": os.getcwd(),
        "sys_path": sys.path,
        "pid": os.getpid(),
    }
"""


def invoke(lam, name: str, event: dict | None = None) -> tuple[dict, dict]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    return resp, json.loads(resp["Payload"].read() or b"null")


def test_hello_world_returns_payload_with_lambda_environment(aws_client, lambda_function) -> None:
    lam = aws_client("lambda")
    name = lambda_function({"app.py": HELLO}, Environment={"Variables": {"GREETING": "hi"}}, MemorySize=256)
    resp, body = invoke(lam, name, {"name": "modelobs"})
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp, body
    assert body["hello"] == "modelobs"
    assert body["function_name"] == name and body["memory_limit_in_mb"] == "256"
    assert body["arn"].endswith(f":function:{name}")
    assert 0 < body["remaining_ms"] <= 10_000
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}" == body["log_group"]
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == body["log_stream"]
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["GREETING"] == "hi"
    # The task root is the cwd and first on sys.path, then the layers, as on AWS.
    assert body["cwd"] == env["LAMBDA_TASK_ROOT"] == body["sys_path"][0]
    assert body["sys_path"][2] == f"{env['LAMBDA_OPT_DIR']}/python"


def test_function_sees_only_runtime_packages_and_its_layers(aws_client, lambda_function) -> None:
    """Nothing of the project's venv or LocalStack's leaks in; boto3 comes from the runtime."""
    src = """
import importlib.util, os
def handler(event, context):
    found = {m: importlib.util.find_spec(m) is not None
             for m in ("boto3", "botocore", "mylib", "localstack", "localstack_nodocker", "pytest", "numpy", "modelobs")}
    with open(os.path.join(os.environ["LAMBDA_OPT_DIR"], "model", "card.txt")) as f:
        card = f.read()
    import mylib
    return {"found": found, "card": card, "mylib": mylib.VALUE}
"""
    layers = [
        {"python/mylib.py": "VALUE = 'first'\n", "model/card.txt": "v1"},
        {"python/mylib.py": "VALUE = 'second'\n"},  # a later layer overwrites, as in /opt
    ]
    name = lambda_function({"app.py": src}, layers=layers)
    resp, body = invoke(aws_client("lambda"), name)
    assert "FunctionError" not in resp, body
    assert body["found"] == {
        "boto3": True, "botocore": True, "mylib": True,
        "localstack": False, "localstack_nodocker": False, "pytest": False, "numpy": False, "modelobs": False,
    }
    assert body["card"] == "v1"
    assert body["mylib"] == "second"


def test_handler_exception_is_a_function_error(aws_client, lambda_function) -> None:
    src = "def handler(event, context):\n    raise ValueError('boom: ' + event['x'])\n"
    name = lambda_function({"app.py": src})
    resp, body = invoke(aws_client("lambda"), name, {"x": "bad input"})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom: bad input"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert 'app.py", line 2, in handler' in body["stackTrace"][-1]
    assert "raise ValueError" in body["stackTrace"][-1]
    assert not any("bootstrap.py" in frame for frame in body["stackTrace"])


def test_timeout_kills_the_runtime_and_its_children(aws_client, lambda_function) -> None:
    src = """
import subprocess, time
def handler(event, context):
    if event.get("sleep"):
        subprocess.Popen(["sleep", "301"])  # must die with the sandbox
        time.sleep(event["sleep"])
    return "awake"
"""
    lam = aws_client("lambda")
    name = lambda_function({"app.py": src}, Timeout=2)
    t0 = time.monotonic()
    resp, body = invoke(lam, name, {"sleep": 30})
    elapsed = time.monotonic() - t0
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"] == f"RequestId: {resp['ResponseMetadata']['RequestId']} Error: Task timed out after 2.00 seconds"
    assert elapsed < 8, f"timeout took {elapsed:.1f}s"
    # The timed-out runtime and the process it spawned are gone; the init survives.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _sleepers(name):
        time.sleep(0.2)
    assert not _sleepers(name)
    # The environment recovers with a fresh runtime (a new cold init).
    resp, body = invoke(lam, name, {})
    assert "FunctionError" not in resp and body == "awake"
    lines = log_lines(aws_client("logs"), f"/aws/lambda/{name}", lambda ls: sum(l.startswith("REPORT") for l in ls) >= 2)
    reports = [l for l in lines if l.startswith("REPORT")]
    assert "Status: timeout" in reports[0]
    assert any("Task timed out after 2.00 seconds" in l for l in lines)
    assert all("Init Duration" in r for r in reports), "a timed-out sandbox is re-initialised"


def _sleepers(function_name: str) -> list[int]:
    from pathlib import Path

    pids = []
    for pid in function_processes(function_name):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"301"]:
                pids.append(pid)
        except OSError:
            pass
    return pids


def test_module_missing_from_layer_fails_like_aws(aws_client, lambda_function) -> None:
    src = "import helper\nimport missing_dep\n\ndef handler(event, context):\n    return 1\n"
    name = lambda_function({"app.py": src}, layers=[{"python/helper.py": "X = 1\n"}])
    lam = aws_client("lambda")
    for _ in range(2):  # the init error is reported on every invoke, not only the first
        resp, body = invoke(lam, name)
        assert resp["FunctionError"] == "Unhandled"
        assert body["errorType"] == "Runtime.ImportModuleError"
        assert body["errorMessage"] == "Unable to import module 'app': No module named 'missing_dep'"
        assert body["stackTrace"] == []
    lines = log_lines(aws_client("logs"), f"/aws/lambda/{name}", lambda ls: any(l.startswith("REPORT") for l in ls))
    assert any(l.startswith("[ERROR] Runtime.ImportModuleError: Unable to import module 'app'") for l in lines)


def test_logs_have_start_end_report_and_init_duration_on_cold_start(aws_client, lambda_function) -> None:
    src = "import logging\ndef handler(event, context):\n    print('line one')\n    logging.warning('careful')\n    return event\n"
    lam = aws_client("lambda")
    name = lambda_function({"app.py": src})
    for i in range(2):
        resp, _ = invoke(lam, name, {"i": i})
        assert "FunctionError" not in resp
    lines = log_lines(aws_client("logs"), f"/aws/lambda/{name}", lambda ls: sum(l.startswith("REPORT") for l in ls) >= 2)
    starts = [l for l in lines if l.startswith("START RequestId: ")]
    ends = [l for l in lines if l.startswith("END RequestId: ")]
    reports = [l for l in lines if l.startswith("REPORT RequestId: ")]
    assert len(starts) == len(ends) == len(reports) == 2
    assert all("Version: $LATEST" in s for s in starts)
    for field in ("Duration: ", "Billed Duration: ", "Memory Size: 256 MB", "Max Memory Used: "):
        assert all(field in r for r in reports), field
    assert "Init Duration: " in reports[0]
    assert "Init Duration: " not in reports[1], "a warm start reports no init"
    assert lines.count("line one") == 2
    assert any(l.startswith("[WARNING]\t") and l.endswith("\tcareful") for l in lines)


def test_concurrent_invocations_run_in_separate_environments(aws_client, lambda_function) -> None:
    src = "import os, time\ndef handler(event, context):\n    time.sleep(1.5)\n    return {'pid': os.getpid(), 'n': event['n']}\n"
    lam = aws_client("lambda")
    name = lambda_function({"app.py": src})
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: invoke(lam, name, {"n": n}), range(4)))
    assert all("FunctionError" not in resp for resp, _ in results), results
    assert sorted(body["n"] for _, body in results) == [0, 1, 2, 3]
    assert len({body["pid"] for _, body in results}) == 4, "four environments at once"


def test_boto3_in_the_function_reaches_localstack_s3(aws_client, lambda_function) -> None:
    s3 = aws_client("s3")
    bucket = unique("fn-bucket")
    s3.create_bucket(Bucket=bucket)
    src = """
import boto3
s3 = boto3.client("s3")  # AWS_ENDPOINT_URL points it at LocalStack
def handler(event, context):
    s3.put_object(Bucket=event["bucket"], Key="from-lambda.txt", Body=context.aws_request_id.encode())
    return "ok"
"""
    name = lambda_function({"app.py": src})
    resp, body = invoke(aws_client("lambda"), name, {"bucket": bucket})
    assert "FunctionError" not in resp, body
    obj = s3.get_object(Bucket=bucket, Key="from-lambda.txt")
    assert obj["Body"].read().decode() == resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    s3.delete_object(Bucket=bucket, Key="from-lambda.txt")
    s3.delete_bucket(Bucket=bucket)


def test_deleting_a_function_leaves_no_processes(aws_client, lambda_function) -> None:
    src = "import subprocess\nsubprocess.Popen(['sleep', '302'])\ndef handler(event, context):\n    return 1\n"
    lam = aws_client("lambda")
    name = lambda_function({"app.py": src})
    resp, _ = invoke(lam, name)
    assert "FunctionError" not in resp
    assert len(function_processes(name)) >= 3, "init, runtime and the runtime's child"
    lam.delete_function(FunctionName=name)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and function_processes(name):
        time.sleep(0.2)
    assert function_processes(name) == []


@pytest.mark.parametrize(
    "handler, error_type, message",
    [
        ("app.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"),
        ("apphandler", "Runtime.MalformedHandlerName", "Bad handler 'apphandler'"),
    ],
)
def test_bad_handler_settings_fail_with_aws_error_types(aws_client, lambda_function, handler, error_type, message) -> None:
    name = lambda_function({"app.py": "def handler(e, c):\n    return 1\n"}, Handler=handler)
    resp, body = invoke(aws_client("lambda"), name)
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message)


def test_runtime_exit_is_reported_and_the_environment_recovers(aws_client, lambda_function) -> None:
    src = "import os\ndef handler(event, context):\n    if event.get('die'):\n        os._exit(3)\n    return 'alive'\n"
    lam = aws_client("lambda")
    name = lambda_function({"app.py": src})
    resp, body = invoke(lam, name, {"die": True})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    resp, body = invoke(lam, name, {})
    assert "FunctionError" not in resp and body == "alive"


def test_memory_is_capped(aws_client, lambda_function) -> None:
    """RLIMIT_AS = MemorySize + headroom (see executor.default_memory_headroom_mb):
    an allocation far past it fails inside the function instead of swapping the host."""
    src = "def handler(event, context):\n    block = bytearray(64 * 1024**3)\n    return len(block)\n"
    name = lambda_function({"app.py": src}, MemorySize=128)
    resp, body = invoke(aws_client("lambda"), name)
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "MemoryError"


def test_runtime_without_interpreter_fails_at_create_and_can_be_deleted(aws_client) -> None:
    from tests.integration.lsutil import zip_bytes

    lam = aws_client("lambda")
    name = unique("no-runtime")
    lam.create_function(
        FunctionName=name, Runtime="python3.9", Role="arn:aws:iam::000000000000:role/r",
        Handler="app.handler", Code={"ZipFile": zip_bytes({"app.py": "def handler(e, c):\n    return 1\n"})},
    )
    deadline = time.monotonic() + 20
    while (config := lam.get_function(FunctionName=name)["Configuration"])["State"] == "Pending":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert config["State"] == "Failed"
    assert "no interpreter for runtime python3.9" in config["StateReason"]
    lam.delete_function(FunctionName=name)  # was InternalError before patches.fix_delete_of_failed_function
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)
