"""The deployed stack on LocalStack, used as a client would: HTTP against API Gateway.

The stack is built with `sam build` and deployed with `sam deploy` from the
same template as AWS (local/stack.py); requests go through LocalStack's REST
API Gateway to the inference function running in the no-Docker executor.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from model_build.synthetic import make_sample
from tests.integration.lsutil import log_lines


def http(url: str, data: bytes | None = None, content_type: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": content_type} if content_type else {}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def scene(index: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(make_sample(31, index).image).save(buf, format=fmt)
    return buf.getvalue()


def captures(aws_client, bucket: str) -> set[str]:
    pages = aws_client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="captures/")
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def ids_of(keys: set[str]) -> set[str]:
    return {k.rsplit("/", 1)[1].split(".")[0] for k in keys}


@pytest.mark.parametrize("fmt,ctype", [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_post_image_returns_detections_and_keeps_both_objects(stack, aws_client, fmt, ctype):
    status, body = http(stack["api_url"] + "/predict", scene(1, fmt), ctype)
    assert status == 200, body
    assert body["model"]["name"] == "animal-detector"
    for det in body["detections"]:
        assert len(det["box"]) == 4 and 0 < det["score"] <= 1
    keys = {k for k in captures(aws_client, stack["bucket"]) if body["id"] in k}
    ext = "jpg" if fmt == "JPEG" else "png"
    assert {k.split("/")[1] for k in keys} == {"images", "predictions"}
    assert any(k.endswith(f"{body['id']}.{ext}") for k in keys)
    record_key = next(k for k in keys if k.endswith(".json"))
    record = json.loads(aws_client("s3").get_object(Bucket=stack["bucket"], Key=record_key)["Body"].read())
    assert record["id"] == body["id"] and record["image"]["content_type"] == ctype


def test_multipart_form_like_the_original_client(stack):
    boundary = uuid.uuid4().hex
    form = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode() + scene(2, "JPEG") + f"\r\n--{boundary}--\r\n".encode()
    status, body = http(stack["api_url"] + "/predict", form, f"multipart/form-data; boundary={boundary}")
    assert status == 200, body


def test_text_body_is_400_and_nothing_is_stored(stack, aws_client):
    before = captures(aws_client, stack["bucket"])
    status, body = http(stack["api_url"] + "/predict", b"I am text, not a picture", "text/plain")
    assert status == 400
    assert body["error"] == "not_an_image" and body["message"]
    assert captures(aws_client, stack["bucket"]) == before


def test_unsupported_format_is_415(stack):
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, format="ICO")
    status, body = http(stack["api_url"] + "/predict", buf.getvalue(), "image/x-icon")
    assert status == 415 and body["error"] == "unsupported_format"


def test_eight_concurrent_requests_make_eight_captures(stack, aws_client):
    before = ids_of(captures(aws_client, stack["bucket"]))
    images = [scene(10 + i, "JPEG") for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda data: http(stack["api_url"] + "/predict", data, "image/jpeg"), images))
    assert [status for status, _ in answers] == [200] * 8
    new = ids_of(captures(aws_client, stack["bucket"])) - before
    assert new == {body["id"] for _, body in answers}


def test_health_names_the_model(stack):
    status, body = http(stack["api_url"] + "/health")
    assert status == 200 and body["status"] == "ok" and len(body["model"]["sha256"]) == 64


def test_function_log_group_has_start_end_report(stack, aws_client):
    http(stack["api_url"] + "/health")
    group = f"/aws/lambda/{stack['functions']['InferenceFunction']}"
    lines = log_lines(aws_client("logs"), group,
                      lambda ls: any(line.startswith("REPORT") for line in ls))
    assert any(line.startswith("START RequestId:") for line in lines)
    assert any(line.startswith("END RequestId:") for line in lines)
    assert any("Init Duration" in line for line in lines if line.startswith("REPORT"))
