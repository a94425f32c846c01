"""Evaluate Lambda: a review record landed in S3 → evaluation record + one EMF metric line.

The metric line is printed as-is (one JSON object per line): CloudWatch
extracts the EMF metrics, and the log subscription forwards the same line
to Observe, which buckets by its ``prediction_day`` field.
"""

from __future__ import annotations

import json
import os
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from modelobs.evaluate_service import evaluate_review

logger = Logger()
s3 = boto3.client("s3")


@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context) -> dict:
    evaluated = []
    for record in event.records:
        key = unquote_plus(record.s3.get_object.key)  # notifications URL-encode keys (dt= arrives as dt%3D)
        if not key.startswith("reviews/"):
            logger.warning("ignoring an object outside reviews/", extra={"key": key})
            continue
        evaluation, line = evaluate_review(s3, record.s3.bucket.name, key)
        print(json.dumps(line, separators=(",", ":")), flush=True)
        evaluated.append(evaluation["evaluation_id"])
    return {"evaluated": evaluated, "bucket": os.environ.get("MODELOBS_BUCKET")}
