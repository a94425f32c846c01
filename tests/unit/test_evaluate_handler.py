"""The evaluate Lambda on an S3 put event, against moto: record written, one EMF line, replays idempotent."""

from __future__ import annotations

import json
import urllib.parse
from datetime import datetime, timezone

import boto3
import pytest
from modelobs.keys import capture_day, new_capture_id, prediction_key
from modelobs.reviews import Review, review_record, store_review
from moto import mock_aws

BUCKET = "evaluate-test"
TS = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def app(load_function, monkeypatch):
    for k, v in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t",
                 "MODELOBS_BUCKET": BUCKET}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield load_function("evaluate")


def s3_event(key: str) -> dict:
    # S3 notifications URL-encode the key (dt=... arrives as dt%3D...)
    return {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "awsRegion": "us-east-1",
                         "s3": {"bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                                "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": 1}}}]}


class Context:
    function_name = "evaluate"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:evaluate"
    aws_request_id = "req"


def seed(s3) -> tuple[str, str]:
    cid = new_capture_id(TS)
    prediction = {"schema": 1, "id": cid, "ts": "2026-11-21T09:00:00.000Z", "model": {"name": "m", "version": "1"},
                  "operating_threshold": 0.5,
                  "detections": [{"box": [0, 0, 10, 10], "score": 0.9, "label": "animal"}]}
    s3.put_object(Bucket=BUCKET, Key=prediction_key(cid, TS), Body=json.dumps(prediction).encode())
    record = review_record(Review(cid, "2026-11-28T00:00:00Z", [{"box": [0, 0, 10, 10], "label": "animal"}]))
    store_review(s3, BUCKET, record)
    return cid, f"reviews/dt={capture_day(cid)}/{cid}.json"


def emf_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_review_event_writes_the_evaluation_and_one_metric_line(app, capsys):
    s3 = boto3.client("s3")
    cid, key = seed(s3)
    result = app.handler(s3_event(key), Context())
    lines = emf_lines(capsys.readouterr().out)
    assert len(lines) == 1 and lines[0]["Precision"] == 1.0 and lines[0]["prediction_day"] == "2026-11-21"
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key=f"evaluations/dt=2026-11-21/{cid}.json")["Body"].read())
    assert stored["evaluation_id"] == lines[0]["evaluation_id"] == result["evaluated"][0]
    assert stored["at_threshold"]["tp"] == 1


def test_a_replayed_review_gives_the_same_evaluation_id(app, capsys):
    cid, key = seed(boto3.client("s3"))
    app.handler(s3_event(key), Context())
    app.handler(s3_event(key), Context())
    ids = {line["evaluation_id"] for line in emf_lines(capsys.readouterr().out)}
    assert len(ids) == 1


def test_a_review_without_its_prediction_raises_for_a_retry(app):
    s3 = boto3.client("s3")
    cid, key = seed(s3)
    s3.delete_object(Bucket=BUCKET, Key=prediction_key(cid, TS))
    with pytest.raises(LookupError, match="does not exist"):
        app.handler(s3_event(key), Context())
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="evaluations/")
