"""Reviewed labels from Labelbox: read from an export row, a webhook payload, or fetched by global key.

A review reaches us two ways. A webhook says "the label of data row X
changed"; a v2 payload carries the label like an export row does (Labelbox:
"the v2 webhook mimics the export payload"), a v1 payload only names it.
``parse_webhook`` reads either and returns the label when the payload has
it, so the webhook Lambda skips a round trip; otherwise ``fetch_label``
exports that one data row (``project.export`` filtered by global key, with
label details), which is also the source of truth for a replay.

Both end in ``ReviewedLabel``: boxes converted at this edge from Labelbox's
``{top, left, height, width}`` to ``[x1, y1, x2, y2]`` pixels with
``modelobs.boxes``, times normalized to UTC ISO-8601. A data row labelled
more than once in a project (consensus, benchmarks) yields its most recently
updated label. Objects that are not boxes are counted, not converted.

Only ``fetch_label`` talks to Labelbox, through the client passed in; this
module imports no SDK (the webhook Lambda parses payloads without it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from .boxes import labelbox_bbox_to_xyxy
from .labelbox_errors import LabelboxRejectedError, LabelboxUnavailableError, sdk_errors

__all__ = [
    "ReviewedLabel",
    "WebhookEvent",
    "MalformedWebhookError",
    "parse_export_row",
    "parse_webhook",
    "parse_webhook_label",
    "fetch_label",
]


class MalformedWebhookError(ValueError):
    """The webhook body is not a Labelbox label event we can read (answer 400)."""


@dataclass(frozen=True)
class ReviewedLabel:
    """One reviewed label of one data row in one project, boxes in ``[x1, y1, x2, y2]`` pixels."""

    global_key: str | None
    data_row_id: str
    project_id: str
    label_id: str
    boxes: list[dict[str, Any]]  # [{"box": [x1, y1, x2, y2], "label": str}]
    created_at: str | None
    updated_at: str | None
    reviewed_at: str | None  # the latest review, else the last update, else creation
    reviewed_by: str | None = None
    width: int | None = None
    height: int | None = None
    ignored_objects: int = 0  # non-box objects (polygons, points...) not converted
    source: str = "labelbox"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WebhookEvent:
    """What a delivery says happened; ``label`` is set when the payload carries the label itself."""

    event: str | None
    global_key: str | None
    data_row_id: str | None
    project_id: str | None
    label_id: str | None
    payload_version: int
    label: ReviewedLabel | None = field(default=None)


def _iso(value: Any) -> str | None:
    """UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ``; unparsable values are kept as they came."""
    if not value:
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _pick_project(projects: Mapping[str, Any], project_id: str | None) -> tuple[str, Mapping[str, Any]] | None:
    if project_id is not None:
        proj = projects.get(project_id)
        return (project_id, proj) if isinstance(proj, Mapping) else None
    if len(projects) == 1:
        ((pid, proj),) = projects.items()
        return (pid, proj) if isinstance(proj, Mapping) else None
    if projects:
        raise MalformedWebhookError(f"the row has labels in {len(projects)} projects; say which project_id to read")
    return None


def parse_export_row(row: Mapping[str, Any], project_id: str | None = None) -> ReviewedLabel | None:
    """The latest label of an export v2 row in ``project_id`` (or its only project); None if unlabelled."""
    dr = row.get("data_row")
    if not isinstance(dr, Mapping) or not dr.get("id"):
        raise MalformedWebhookError("export row without data_row.id")
    picked = _pick_project(row.get("projects") or {}, project_id)
    if picked is None:
        return None
    pid, proj = picked
    labels = [lb for lb in proj.get("labels") or [] if isinstance(lb, Mapping)]
    if not labels:
        return None

    def last_change(lb: Mapping[str, Any]) -> str:
        details = lb.get("label_details") or {}
        return str(_iso(details.get("updated_at")) or _iso(details.get("created_at")) or "")

    label = max(labels, key=last_change)
    details = label.get("label_details") or {}
    reviews = [r for r in details.get("reviews") or [] if isinstance(r, Mapping) and r.get("reviewed_at")]
    latest_review = max(reviews, key=lambda r: str(_iso(r["reviewed_at"]))) if reviews else None
    boxes: list[dict[str, Any]] = []
    ignored = 0
    for obj in (label.get("annotations") or {}).get("objects") or []:
        bbox = obj.get("bounding_box") if isinstance(obj, Mapping) else None
        if not isinstance(bbox, Mapping):
            ignored += 1
            continue
        try:
            box = labelbox_bbox_to_xyxy(bbox)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedWebhookError(f"label {label.get('id')}: bad bounding_box {bbox!r}: {exc}") from exc
        boxes.append({"box": box, "label": str(obj.get("name") or obj.get("value") or "object")})
    media = row.get("media_attributes") or {}
    return ReviewedLabel(
        global_key=dr.get("global_key"),
        data_row_id=str(dr["id"]),
        project_id=pid,
        label_id=str(label.get("id")),
        boxes=boxes,
        created_at=_iso(details.get("created_at")),
        updated_at=_iso(details.get("updated_at")),
        reviewed_at=_iso(latest_review["reviewed_at"] if latest_review else None)
        or _iso(details.get("updated_at"))
        or _iso(details.get("created_at")),
        reviewed_by=(latest_review or {}).get("reviewed_by") or details.get("created_by"),
        width=media.get("width"),
        height=media.get("height"),
        ignored_objects=ignored,
    )


def _load(body: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedWebhookError(f"webhook body is not JSON: {exc}") from exc
    if not isinstance(payload, Mapping):
        raise MalformedWebhookError(f"webhook body is a JSON {type(payload).__name__}, not an object")
    return payload


def parse_webhook(body: bytes | str | Mapping[str, Any], project_id: str | None = None, event: str | None = None) -> WebhookEvent:
    """Read a label webhook (v2 export-like or v1 legacy); ``event`` defaults to the payload's own.

    Raises ``MalformedWebhookError`` when the body is not JSON or names no data row.
    """
    payload = _load(body)
    event = event or payload.get("event")
    if isinstance(payload.get("data_row"), Mapping):  # v2: an export row
        dr = payload["data_row"]
        if not dr.get("id"):
            raise MalformedWebhookError("v2 webhook payload without data_row.id")
        label = parse_export_row(payload, project_id)
        projects = payload.get("projects") or {}
        pid = label.project_id if label else (project_id or (next(iter(projects)) if len(projects) == 1 else None))
        return WebhookEvent(
            event=event,
            global_key=dr.get("global_key"),
            data_row_id=str(dr["id"]),
            project_id=pid,
            label_id=label.label_id if label else None,
            payload_version=2,
            label=label,
        )
    if isinstance(payload.get("dataRow"), Mapping):  # v1: identifiers; the label is fetched
        dr = payload["dataRow"]
        if not dr.get("id"):
            raise MalformedWebhookError("v1 webhook payload without dataRow.id")
        return WebhookEvent(
            event=event,
            global_key=dr.get("globalKey"),
            data_row_id=str(dr["id"]),
            project_id=(payload.get("project") or {}).get("id") or project_id,
            label_id=payload.get("id"),
            payload_version=1,
        )
    raise MalformedWebhookError("not a Labelbox label event: no data_row (v2) or dataRow (v1) object")


def parse_webhook_label(body: bytes | str | Mapping[str, Any], project_id: str | None = None) -> ReviewedLabel | None:
    """The reviewed label a webhook payload carries, or None when it must be fetched."""
    return parse_webhook(body, project_id).label


def fetch_label(client: Any, project_id: str, global_key: str, timeout_s: float = 120.0) -> ReviewedLabel | None:
    """Export the data row ``global_key`` from the project and return its latest label (None if unlabelled).

    Raises ``LabelboxUnavailableError`` / ``LabelboxRejectedError`` on any
    Labelbox failure (including an export that does not finish in
    ``timeout_s``), so the caller's retry applies.
    """
    action = f"fetch label {global_key!r}"
    rows: list[Mapping[str, Any]] = []
    with sdk_errors(action):
        from labelbox.schema.export_task import StreamType

        project = client.get_project(project_id)
        task = project.export(
            task_name=f"modelobs review {global_key}",
            filters={"global_keys": [global_key]},
            params={"label_details": True, "project_details": True, "data_row_details": False, "performance_details": False},
        )
        task.wait_till_done(timeout_seconds=int(timeout_s))
        if task.status == "FAILED":
            raise LabelboxRejectedError(action, f"export task {task.uid} failed")
        if task.status != "COMPLETE":
            raise LabelboxUnavailableError(action, f"export task {task.uid} still {task.status} after {timeout_s:.0f} s")
        if task.has_errors():
            errors: list[Any] = []
            task.get_buffered_stream(StreamType.ERRORS).start(lambda out: errors.append(out.json))
            raise LabelboxRejectedError(action, f"export task {task.uid} reported errors: {errors[:3]}")
        if task.has_result():
            task.get_buffered_stream(StreamType.RESULT).start(lambda out: rows.append(out.json))
    for row in rows:
        if (row.get("data_row") or {}).get("global_key") == global_key:
            try:
                return parse_export_row(row, project_id)
            except MalformedWebhookError as exc:  # Labelbox's row, not a caller's payload
                raise LabelboxRejectedError(action, f"unreadable export row: {exc}") from exc
    return None
