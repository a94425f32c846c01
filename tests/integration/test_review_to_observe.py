"""A stored review flows through the deployed stack to Observe: S3 notification → evaluate λ →
evaluation record + EMF line → log subscription → forwarder λ → the local Observe collector."""

from __future__ import annotations

import io
import json
import urllib.request

from modelobs.keys import capture_day
from modelobs.reviews import Review, review_record, store_review
from PIL import Image

from model_build.synthetic import make_sample
from tests.integration.lsutil import wait_for
from tests.integration.test_predict_api import http


def collector_lines(services) -> list[dict]:
    with urllib.request.urlopen(f"{services.OBSERVE_URL}/_collector/observations", timeout=10) as resp:
        observations = json.loads(resp.read())["observations"]
    out = []
    for o in observations:
        try:
            out.append(json.loads(o["fields"]["message"]))
        except (KeyError, TypeError, json.JSONDecodeError):
            continue
    return out


def test_review_becomes_an_evaluation_in_s3_and_a_line_in_observe(stack, emulators, aws_client):
    sample = make_sample(77, 3)
    buf = io.BytesIO()
    Image.fromarray(sample.image).save(buf, format="JPEG")
    status, body = http(stack["api_url"] + "/predict", buf.getvalue(), "image/jpeg")
    assert status == 200
    cid = body["id"]

    s3 = aws_client("s3")
    review = Review(cid, "2026-11-28T12:00:00Z", [{"box": list(map(float, b)), "label": "animal"} for b in sample.boxes],
                    source="test", source_ids={"label_id": "L-test"})
    assert store_review(s3, stack["bucket"], review_record(review)) == "created"

    key = f"evaluations/dt={capture_day(cid)}/{cid}.json"

    def evaluation():
        try:
            return json.loads(s3.get_object(Bucket=stack["bucket"], Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None

    record = wait_for(evaluation)
    assert record, f"no evaluation at {key}"
    assert record["id"] == cid and record["counts"]["reviewed_boxes"] == len(sample.boxes)

    line = wait_for(lambda: next((x for x in collector_lines(emulators) if x.get("evaluation_id") == record["evaluation_id"]), None))
    assert line, "the evaluation's metric line never reached the Observe collector"
    assert line["capture_id"] == cid and line["prediction_day"] == capture_day(cid)
    assert "TP" in line and line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "modelobs/quality"
