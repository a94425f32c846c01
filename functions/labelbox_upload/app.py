"""Sampler Lambda: a prediction record lands in S3 → sampling decision → maybe a Labelbox review.

Invoked asynchronously by S3, so an exception means "retry": Lambda retries
twice, then the event goes to the dead-letter queue, from which
`modelobs redrive sampler` sends it back. Every step is idempotent.
"""

from __future__ import annotations

import os
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from modelobs.config import load_sampling_policy
from modelobs.labelbox_context import labelbox
from modelobs.review_sampler import SamplerService

logger = Logger()
service = SamplerService(boto3.client("s3"), os.environ["MODELOBS_BUCKET"], load_sampling_policy(), labelbox)


@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context) -> list[dict]:
    decisions = []
    for record in event.records:
        key = unquote_plus(record.s3.get_object.key)
        decision = service.handle(key)
        logger.info("sampling decision", extra={k: decision.get(k) for k in ("id", "stratum", "probability", "sampled", "reason", "status")})
        decisions.append({"id": decision["id"], "status": decision["status"]})
    return decisions
