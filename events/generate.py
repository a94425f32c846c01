"""Regenerate the sample events for `sam local invoke` (and the handler tests that read them).

    .venv/bin/python events/generate.py
"""

from __future__ import annotations

import base64
import io
import json
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # model_build, from a checkout


def api_event(method: str, path: str, body: bytes | None, content_type: str | None) -> dict:
    """A REST API (v1) proxy event as API Gateway sends it, binary body base64-encoded."""
    headers = {"Host": "example.execute-api.us-east-1.amazonaws.com", "User-Agent": "curl/8.5.0", "Accept": "*/*"}
    if content_type:
        headers["Content-Type"] = content_type
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012",
            "apiId": "example",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "curl/8.5.0"},
            "requestTimeEpoch": 1764288000000,
        },
        "body": base64.b64encode(body).decode() if body is not None else None,
        "isBase64Encoded": body is not None,
    }


def main() -> None:
    from model_build.synthetic import make_sample

    sample = next(s for s in (make_sample(7, i) for i in range(200)) if s.image.shape[:2] == (480, 640) and len(s.boxes) >= 2)
    buf = io.BytesIO()
    Image.fromarray(sample.image).save(buf, format="JPEG", quality=85)
    events = {
        "predict.json": api_event("POST", "/predict", buf.getvalue(), "image/jpeg"),
        "predict-text.json": api_event("POST", "/predict", b"this is not an image", "text/plain"),
        "health.json": api_event("GET", "/health", None, None),
    }
    for name, event in events.items():
        (HERE / name).write_text(json.dumps(event, indent=1) + "\n")
        print(f"wrote events/{name}")


if __name__ == "__main__":
    main()
