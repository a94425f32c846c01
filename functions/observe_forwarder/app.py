"""Observe forwarder Lambda: CloudWatch Logs subscription → Observe HTTP ingest.

Only structured records go on (lines that are JSON objects: the evaluation
metric lines, Powertools logs); the runtime's START/END/REPORT lines are
dropped and counted, since community LocalStack ignores filter patterns and
AWS users may subscribe with a broad one. What Observe does not accept after
the retries is kept in S3 (``forwarder-failures/``) for
``modelobs replay observe``: nothing is lost.
"""

from __future__ import annotations

import os

import boto3
from aws_lambda_powertools import Logger
from modelobs import cwlogs
from modelobs.observe import ObserveClient, ObserveConfig, deadline_from_context
from modelobs.observe_failures import S3FailureStore
from modelobs.observe_forward import forward
from modelobs.observe_secret import token_from_env

logger = Logger()
client = ObserveClient(ObserveConfig.from_env(), token_provider=token_from_env)
store = S3FailureStore(boto3.client("s3"), os.environ["MODELOBS_BUCKET"])


@logger.inject_lambda_context
def handler(event: dict, context) -> dict:
    selected = cwlogs.filter_records(cwlogs.records_from_event(event), cwlogs.is_json_object)
    report = forward(selected.kept, client, store, deadline=deadline_from_context(context))
    summary = {**report.to_dict(), "dropped": selected.dropped}
    # Not a JSON-object line of its own kind: forwarding our own summary would loop if
    # this function's log group were ever subscribed.
    logger.info("forwarded", extra=summary)
    return summary
