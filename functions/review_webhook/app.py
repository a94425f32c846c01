"""Review webhook Lambda: `POST /webhooks/labelbox` from Labelbox → review record in S3.

401 on a missing or wrong signature, 400 on a malformed body, 200 otherwise
(also for duplicates and topics we do not use, so Labelbox stops
redelivering them); nothing is stored on an error.
"""

from __future__ import annotations

import os

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from modelobs.config import load_labelbox_settings
from modelobs.labelbox_context import labelbox
from modelobs.review_webhook import WebhookService
from modelobs.secrets import secret_value
from modelobs.upload import event_body

logger = Logger()
app = APIGatewayRestResolver()
settings = load_labelbox_settings()
service = WebhookService(
    boto3.client("s3"),
    os.environ["MODELOBS_BUCKET"],
    lambda: secret_value(settings.webhook_secret_id, setting="LABELBOX_WEBHOOK_SECRET_ID"),
    labelbox,
)


@app.post("/webhooks/labelbox")
def webhook() -> Response:
    event = app.current_event
    answer = service.handle(event_body(event.raw_event), event.headers)
    logger.info("webhook", extra={"status": answer.status, **{k: v for k, v in answer.body.items() if k != "message"}})
    return Response(status_code=answer.status, content_type=content_types.APPLICATION_JSON, body=answer.body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict, context) -> dict:
    return app.resolve(event, context)
