"""The Observe forwarder Lambda end to end on the unit level: a real subscription payload in,
the local collector receiving, moto S3 keeping failures, the replay CLI delivering them once."""

from __future__ import annotations

import json

import boto3
import pytest
from modelobs import cli
from modelobs.cwlogs import encode_event
from moto import mock_aws

from local.observe_collector import LOCAL_TOKEN, serve_in_thread

BUCKET = "forwarder-test"


class Context:
    function_name = "observe_forwarder"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:observe_forwarder"
    aws_request_id = "req"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def collector():
    server = serve_in_thread(LOCAL_TOKEN, quiet=True)
    yield server
    server.close()


@pytest.fixture
def env(monkeypatch, collector):
    values = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t",
              "MODELOBS_BUCKET": BUCKET, "OBSERVE_ENDPOINT": collector.url, "OBSERVE_TOKEN": LOCAL_TOKEN,
              "OBSERVE_MAX_ATTEMPTS": "2", "OBSERVE_BACKOFF_BASE_S": "0.01", "OBSERVE_MAX_ELAPSED_S": "2"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def payload(n: int) -> dict:
    lines = [{"id": str(i), "timestamp": 1_795_900_000_000 + i,
              "message": json.dumps({"type": "evaluation", "evaluation_id": f"e{i}", "Precision": 1.0})}
             for i in range(n)]
    lines.append({"id": "r", "timestamp": 1_795_900_000_999, "message": "REPORT RequestId: x\tDuration: 1.00 ms"})
    return encode_event(lines, log_group="/aws/lambda/evaluate", log_stream="2026/11/28/[$LATEST]abc")


def test_structured_lines_reach_observe_and_runtime_lines_are_dropped(env, collector, load_function):
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        app = load_function("observe_forwarder")
        summary = app.handler(payload(3), Context())
    assert summary["delivered_records"] == 3 and summary["dropped"] == 1 and summary["failed_records"] == 0
    got = collector.store.query()
    assert [o["fields"]["logGroup"] for o in got] == ["/aws/lambda/evaluate"] * 3
    assert {json.loads(o["fields"]["message"])["evaluation_id"] for o in got} == {"e0", "e1", "e2"}


def test_observe_down_keeps_the_batch_and_replay_delivers_it_exactly_once(env, collector, load_function, capsys):
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        collector.faults.set({"mode": "down", "status": 503})
        app = load_function("observe_forwarder")
        summary = app.handler(payload(2), Context())
        assert summary["failed_records"] == 2 and summary["failure_keys"]
        assert collector.store.query() == []
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == summary["failure_keys"]
        capsys.readouterr()

        collector.faults.set({"mode": "ok"})
        assert cli.main(["replay", "observe", "--bucket", BUCKET]) == 0
        assert json.loads(capsys.readouterr().out)["delivered_records"] == 2
        assert cli.main(["replay", "observe", "--bucket", BUCKET]) == 0  # nothing left: nothing sent twice
        assert json.loads(capsys.readouterr().out)["delivered_records"] == 0
        count = collector.store.count()
        assert count["count"] == 2 and count["duplicates"] == 0
        assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_wrong_token_is_kept_not_lost_and_not_logged(env, collector, load_function, monkeypatch, capsys):
    monkeypatch.setenv("OBSERVE_TOKEN", "wrong-token-value-123")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        app = load_function("observe_forwarder")
        summary = app.handler(payload(1), Context())
        assert summary["failed_records"] == 1 and summary["reasons"] == {"unauthorized": 1}
        assert len(s3.list_objects_v2(Bucket=BUCKET)["Contents"]) == 1
    assert "wrong-token-value-123" not in capsys.readouterr().out
