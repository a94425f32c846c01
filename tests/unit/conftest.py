"""Fixtures for unit tests: AWS through moto, and a real photo."""

from __future__ import annotations

import io

import boto3
import pytest
from moto import mock_aws
from PIL import Image
from skimage import data as skdata


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
