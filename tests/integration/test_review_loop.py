"""The review loop on the deployed stack with the Labelbox emulator and the real SDK:
prediction → sampler λ → Labelbox data row + pre-labels → human review → signed webhook →
webhook λ → review record in S3; forged signatures, redeliveries and outages lose nothing."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

import pytest
from modelobs.keys import capture_day
from modelobs.labelbox_signature import sign
from PIL import Image

from model_build.synthetic import make_sample
from tests.integration.lsutil import wait_for
from tests.integration.test_predict_api import http


def emulator(services, path: str, doc: dict | None = None) -> dict:
    data = json.dumps(doc).encode() if doc is not None else None
    request = urllib.request.Request(services.LABELBOX_URL + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as resp:
        return json.loads(resp.read())


def s3_json(s3, bucket: str, key: str) -> dict | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def predict(stack, seed: int = 5, index: int = 2) -> tuple[str, object]:
    sample = make_sample(seed, index)
    buf = io.BytesIO()
    Image.fromarray(sample.image).save(buf, format="JPEG")
    status, body = http(stack["api_url"] + "/predict", buf.getvalue(), "image/jpeg")
    assert status == 200, body
    return body["id"], body


def decision_key(cid: str) -> str:
    return f"sampling/decisions/dt={capture_day(cid)}/{cid}.json"


def rows_for(state: dict, cid: str) -> list[dict]:
    return [r for r in state["data_rows"] if r.get("globalKey") == cid]


def prelabels_for(state: dict, data_row_id: str) -> list[dict]:
    return [a for rows in state["prelabels"].values() for a in rows.get(data_row_id, [])]


def test_sampled_prediction_is_reviewed_and_stored_once(stack, emulators, aws_client):
    s3, bucket = aws_client("s3"), stack["bucket"]
    for index in range(10):  # a scene on which the model finds something, so there are pre-labels
        cid, body = predict(stack, index=index)
        if body["detections"]:
            break
    decision = wait_for(lambda: (d := s3_json(s3, bucket, decision_key(cid))) and d["status"] == "submitted" and d)
    assert decision, s3_json(s3, bucket, decision_key(cid))
    assert decision["sampled"] and decision["probability"] == 1.0 and decision["labelbox"]["global_key"] == cid

    state = emulator(emulators, "/_emulator/state")
    rows = rows_for(state, cid)
    assert len(rows) == 1
    assert len(prelabels_for(state, rows[0]["id"])) == len(body["detections"]) > 0

    reviewed = emulator(emulators, "/_emulator/review", {"global_key": cid, "accept_prelabels": True})
    assert [d["status"] for d in reviewed["deliveries"]] == [200], reviewed
    review_key = f"reviews/dt={capture_day(cid)}/{cid}.json"
    review = wait_for(lambda: s3_json(s3, bucket, review_key), timeout=20)
    assert review and review["source"] == "labelbox" and review["source_ids"]["label_id"] == reviewed["label_id"]
    assert sorted(b["box"] for b in review["boxes"]) == sorted(
        [pytest.approx(d["box"], abs=0.01) for d in body["detections"]], key=lambda x: x.expected)
    etag = s3.head_object(Bucket=bucket, Key=review_key)["ETag"]

    again = emulator(emulators, "/_emulator/redeliver", {"delivery_id": reviewed["deliveries"][0]["delivery_id"]})
    assert again["status"] == 200
    assert s3.head_object(Bucket=bucket, Key=review_key)["ETag"] == etag  # nothing rewritten, nothing re-evaluated

    evaluation = wait_for(lambda: s3_json(s3, bucket, f"evaluations/dt={capture_day(cid)}/{cid}.json"))
    assert evaluation and evaluation["at_threshold"]["fp"] == 0  # the reviewer accepted every pre-label


def test_forged_signature_is_401_and_stores_nothing(stack, emulators, aws_client):
    s3, bucket = aws_client("s3"), stack["bucket"]
    cid, _ = predict(stack, index=4)
    payload = json.dumps({"event": "LABEL_CREATED", "data_row": {"id": "x", "global_key": cid}}).encode()
    before = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    for headers in (
        {"X-Hub-Signature": sign("not-the-secret", payload, "sha1"), "X-Labelbox-Id": "forged-1"},
        {"X-Labelbox-Id": "forged-2"},
    ):
        request = urllib.request.Request(stack["api_url"] + "/webhooks/labelbox", data=payload, method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=60)
        assert info.value.code == 401
        assert json.loads(info.value.read())["error"] == "bad_signature"
    after = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert not {k for k in after - before if k.startswith(("reviews", "webhooks"))}


def test_labelbox_outage_goes_to_the_dlq_and_redrive_loses_nothing(stack, emulators, aws_client):
    import subprocess
    import sys

    s3, bucket, sqs = aws_client("s3"), stack["bucket"], aws_client("sqs")
    queue = stack["outputs"]["SamplerDeadLetterQueueUrl"]
    emulator(emulators, "/_emulator/fault", {"mode": "reset"})  # every call fails at once, until cleared
    try:
        cid, _ = predict(stack, index=6)

        def dead_lettered():
            attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
            return int(attrs["Attributes"]["ApproximateNumberOfMessages"]) > 0

        assert wait_for(dead_lettered, timeout=90, every=1), "the failed event never reached the dead-letter queue"
        pending = s3_json(s3, bucket, decision_key(cid))
        assert pending["sampled"] and pending["status"] == "pending"
        assert rows_for(emulator(emulators, "/_emulator/state"), cid) == []
    finally:
        emulator(emulators, "/_emulator/fault", {"mode": "ok"})

    redrive = subprocess.run(
        [sys.executable, "-m", "modelobs.cli", "redrive", "sampler", "--queue-url", queue,
         "--function", stack["functions"]["SamplerFunction"], "--endpoint-url", stack["endpoint"]],
        capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
             "AWS_DEFAULT_REGION": "us-east-1"},
    )
    assert redrive.returncode == 0, redrive.stdout + redrive.stderr
    assert json.loads(redrive.stdout)["redriven"] >= 1
    assert s3_json(s3, bucket, decision_key(cid))["status"] == "submitted"
    assert len(rows_for(emulator(emulators, "/_emulator/state"), cid)) == 1
