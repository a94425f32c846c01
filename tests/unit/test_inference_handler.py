"""The inference Lambda's handler on the sample events, against moto's S3."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

EVENTS = Path(__file__).resolve().parents[2] / "events"
BUCKET = "captures-test"


class Context:
    function_name = "inference"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:inference"
    aws_request_id = "req-1"


@pytest.fixture
def app(load_function, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("MODELOBS_BUCKET", BUCKET)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "modelobs")
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield load_function("inference")


def objects() -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=BUCKET)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def invoke(app, name: str, **changes) -> tuple[int, dict]:
    event = json.loads((EVENTS / name).read_text())
    event.update(changes)
    response = app.handler(event, Context())
    return response["statusCode"], json.loads(response["body"])


def test_predict_event_returns_detections_and_keeps_image_and_record(app, capsys):
    status, body = invoke(app, "predict.json")
    assert status == 200, body
    assert set(body) == {"id", "model", "image", "detections", "threshold"}
    assert body["image"] == {"width": 640, "height": 480}
    assert body["detections"], "the sample event's scene has animals"
    keys = objects()
    assert keys == [
        f"captures/images/{keys[0].split('/')[2]}/{body['id']}.jpg",
        f"captures/predictions/{keys[0].split('/')[2]}/{body['id']}.json",
    ]
    record = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=keys[1])["Body"].read())
    assert record["schema"] == 1 and record["id"] == body["id"]
    assert record["image"]["key"] == keys[0]
    assert len(record["detections"]) >= len(body["detections"])  # the record keeps every candidate
    assert record["operating_threshold"] == body["threshold"]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Latency", "Detections", "MaxScore", "ColdStart"} <= names


def test_text_body_is_400_and_nothing_is_stored(app):
    status, body = invoke(app, "predict-text.json")
    assert status == 400
    assert body["error"] == "not_an_image" and "JPEG" in body["message"]
    assert objects() == []


def test_multipart_form_is_accepted(app):
    import base64

    image = base64.b64decode(json.loads((EVENTS / "predict.json").read_text())["body"])
    boundary = "modelobs-boundary"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="scene.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + image + f"\r\n--{boundary}--\r\n".encode()
    status, body = invoke(
        app, "predict.json",
        body=base64.b64encode(form).decode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 200, body
    assert len(objects()) == 2


def test_health_reports_the_model(app):
    status, body = invoke(app, "health.json")
    assert status == 200
    assert body["model"]["name"] and body["model"]["version"] and len(body["model"]["sha256"]) == 64


def test_a_failed_record_write_leaves_no_image_behind(app, monkeypatch):
    s3 = app.service.s3
    real_put = s3.put_object

    def failing_put(**kw):
        if kw["Key"].startswith("captures/predictions/"):
            raise RuntimeError("S3 is down")
        return real_put(**kw)

    monkeypatch.setattr(s3, "put_object", failing_put)
    status, body = invoke(app, "predict.json")
    assert status == 500
    assert body["error"] == "internal_error"
    assert objects() == []


def test_capture_time_files_the_capture_under_that_day(app):
    from datetime import datetime, timedelta, timezone

    when = (datetime.now(timezone.utc) - timedelta(days=3)).replace(microsecond=0)
    event = json.loads((EVENTS / "predict.json").read_text())
    event["headers"]["X-Capture-Time"] = when.isoformat().replace("+00:00", "Z")
    response = app.handler(event, Context())
    assert response["statusCode"] == 200
    day = when.strftime("%Y-%m-%d")
    assert all(f"/dt={day}/" in key for key in objects()) and len(objects()) == 2


@pytest.mark.parametrize("value", ["yesterday", "2026-01-01T00:00:00", "2999-01-01T00:00:00Z", "2001-01-01T00:00:00Z"])
def test_bad_capture_time_is_400_and_nothing_is_stored(app, value):
    event = json.loads((EVENTS / "predict.json").read_text())
    event["headers"]["X-Capture-Time"] = value
    response = app.handler(event, Context())
    assert response["statusCode"] == 400
    assert "X-Capture-Time" in json.loads(response["body"])["message"]
    assert objects() == []
