"""The embedded LocalStack itself: lifecycle, binding, and the S3 behaviour the design relies on."""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tests.integration.lsutil import CLOUDCTL, ROOT, unique


def test_up_is_idempotent_and_status_reports_health(localstack: str) -> None:
    up = subprocess.run([sys.executable, str(CLOUDCTL), "up"], cwd=ROOT, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    assert "already" in up.stdout
    status = subprocess.run([sys.executable, str(CLOUDCTL), "status"], cwd=ROOT, capture_output=True, text=True)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "health: version" in status.stdout


def test_listens_on_loopback_only(localstack: str) -> None:
    """Host mode must not expose LocalStack on the network (GATEWAY_SERVER=hypercorn)."""
    port = localstack.rsplit(":", 1)[1]
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    addresses = {line.split()[3] for line in listening.splitlines() if line.strip()}
    assert addresses == {f"127.0.0.1:{port}"}, listening


@pytest.fixture
def bucket(aws_client):
    s3 = aws_client("s3")
    name = unique("cond-writes")
    s3.create_bucket(Bucket=name)
    yield name
    for obj in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def _status(err: ClientError) -> tuple[str, int]:
    return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]


def test_s3_if_none_match_creates_once(aws_client, bucket: str) -> None:
    """Create-once markers (the design's DynamoDB replacement) rely on this 412."""
    s3 = aws_client("s3")
    s3.put_object(Bucket=bucket, Key="marker", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="marker", Body=b"second", IfNoneMatch="*")
    assert _status(exc.value) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="marker")["Body"].read() == b"first"


def test_s3_if_match_is_compare_and_swap(aws_client, bucket: str) -> None:
    """Counters use If-Match on the ETag: a stale ETag must lose with 412."""
    s3 = aws_client("s3")
    stale = s3.put_object(Bucket=bucket, Key="counter", Body=b"1")["ETag"]
    fresh = s3.put_object(Bucket=bucket, Key="counter", Body=b"2", IfMatch=stale)["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="counter", Body=b"3", IfMatch=stale)
    assert _status(exc.value) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="counter")["ETag"] == fresh
