"""Fixtures for unit tests: AWS through moto, and a real photo."""

from __future__ import annotations

import io
import json
import urllib.request

import boto3
import pytest
from moto import mock_aws
from PIL import Image
from skimage import data as skdata

from local.observe_collector import serve_in_thread

#: A token of the shape Observe issues; the tests' collectors accept only this one.
OBSERVE_TOKEN = "abcdefghij0123456789:SECRETsecretSECRETsecretSECRET12"


@pytest.fixture
def aws_env(monkeypatch) -> None:
    """Fake credentials and a region, so no test can reach a real account."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def s3(request, aws_env):
    """A moto S3 client with the test module's ``BUCKET`` created."""
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=request.module.BUCKET)
        yield client


@pytest.fixture(scope="module")
def chelsea() -> Image.Image:
    """A real photo of a cat (451x300), shipped inside scikit-image."""
    return Image.fromarray(skdata.chelsea())


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def collector(tmp_path):
    """A local Observe collector on a free port, accepting ``OBSERVE_TOKEN``."""
    server = serve_in_thread(OBSERVE_TOKEN, state_dir=tmp_path / "observe")
    yield server
    server.close()


def collector_admin(server, what: str, doc: dict | None = None) -> dict:
    """GET (or POST ``doc`` to) the collector's ``/_collector/<what>`` admin endpoint."""
    url = f"{server.url}/_collector/{what}"
    data = None if doc is None else json.dumps(doc).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST" if data else "GET")) as r:
        return json.loads(r.read())
