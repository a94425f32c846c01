"""The webhook use case: a Labelbox delivery → a verified, deduplicated review record in S3.

Order matters for "nothing stored on an error, nothing counted twice":
the signature is checked before the body is even parsed; the review is
stored (idempotent by content) before the delivery's create-once marker,
so a crash between them makes a redelivery redo a harmless write instead
of losing the review.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .keys import delivery_marker_key
from .labelbox_labels import MalformedWebhookError, ReviewedLabel, parse_webhook
from .labelbox_signature import verify_signature
from .reviews import Review, ReviewError, review_record, store_review
from .s3cond import create_once, read_json
from .upload import header

TOPICS = {"LABEL_CREATED", "LABEL_UPDATED"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


@dataclass
class WebhookService:
    s3: Any
    bucket: str
    secret: Callable[[], str]
    #: ``(client, SetupIds)``; used only when a delivery does not carry the label (v1 payloads).
    labelbox: Callable[[], tuple[Any, Any]]
    fetch: Callable[[Any, str, str], ReviewedLabel | None] | None = None

    def handle(self, body: bytes, headers: Mapping[str, str] | None) -> Answer:
        check = verify_signature(self.secret(), body, headers)
        if not check:
            return Answer(401, {"error": "bad_signature", "message": check.reason})
        delivery = header(dict(headers or {}), "X-Labelbox-Id")
        if not delivery:
            return Answer(400, {"error": "malformed_request", "message": "X-Labelbox-Id header is missing"})
        try:
            event = parse_webhook(body, event=header(dict(headers or {}), "X-Labelbox-Event"))
        except MalformedWebhookError as exc:
            return Answer(400, {"error": "malformed_request", "message": str(exc)})
        if event.event not in TOPICS:
            return Answer(200, {"status": "ignored", "event": event.event})
        marker = delivery_marker_key(delivery)
        if read_json(self.s3, self.bucket, marker) is not None:
            return Answer(200, {"status": "duplicate", "delivery": delivery})
        if not event.global_key:
            return Answer(400, {"error": "malformed_request", "message": "the delivery names no global key"})

        label = event.label or self._fetch(event.project_id, event.global_key)
        if label is None:
            # Labelbox says the label exists but its export does not show it yet: let it redeliver.
            return Answer(503, {"error": "label_not_ready", "message": f"no label for {event.global_key} yet; retry"})
        review = Review(
            id=event.global_key,
            reviewed_at=label.reviewed_at or label.updated_at or label.created_at or "",
            boxes=label.boxes,
            source="labelbox",
            source_ids={"data_row_id": label.data_row_id, "label_id": label.label_id, "project_id": label.project_id},
        )
        try:
            record = review_record(review, {"id": delivery, "event": event.event, "signature": check.scheme})
        except ReviewError as exc:
            return Answer(400, {"error": "bad_review", "message": str(exc)})
        outcome = store_review(self.s3, self.bucket, record)
        create_once(self.s3, self.bucket, marker, json.dumps({"review_version": record["version"]}).encode())
        return Answer(200, {"status": outcome, "id": record["id"], "version": record["version"]})

    def _fetch(self, project_id: str | None, global_key: str) -> ReviewedLabel | None:
        client, ids = self.labelbox()
        fetch = self.fetch
        if fetch is None:
            from .labelbox_labels import fetch_label as fetch
        return fetch(client, project_id or ids.project_id, global_key)
