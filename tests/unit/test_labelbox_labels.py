"""Reviewed labels from export rows and webhook payloads (v2 carries the label, v1 only names it)."""

from __future__ import annotations

import json

import pytest
from modelobs.labelbox_errors import LabelboxRejectedError, LabelboxUnavailableError, sdk_errors
from modelobs.labelbox_labels import MalformedWebhookError, parse_export_row, parse_webhook, parse_webhook_label

PID = "cproject0000000000000001"


def _label(label_id: str, updated: str, boxes: list[dict], reviews: list[dict] | None = None) -> dict:
    return {
        "id": label_id,
        "label_details": {"created_at": "2026-01-02T03:00:00.000Z", "updated_at": updated, "created_by": "a@b.c", "reviews": reviews or []},
        "annotations": {"objects": boxes, "classifications": [], "relationships": []},
    }


def _row(labels: list[dict], projects: dict | None = None) -> dict:
    return {
        "data_row": {"id": "dr1", "global_key": "cap-1", "row_data": "https://x/1.jpg"},
        "media_attributes": {"width": 640, "height": 480},
        "projects": projects if projects is not None else {PID: {"name": "p", "labels": labels}},
    }


BOX = {"name": "animal", "annotation_kind": "ImageBoundingBox", "bounding_box": {"top": 20, "left": 10, "height": 40, "width": 30}}


def test_export_row_boxes_become_xyxy_pixels():
    label = parse_export_row(_row([_label("l1", "2026-01-02T03:04:05.000Z", [BOX])]))
    assert label is not None
    assert label.boxes == [{"box": [10.0, 20.0, 40.0, 60.0], "label": "animal"}]
    assert (label.global_key, label.data_row_id, label.project_id, label.label_id) == ("cap-1", "dr1", PID, "l1")
    assert (label.width, label.height) == (640, 480)


def test_latest_label_and_latest_review_win():
    older = _label("l1", "2026-01-02T03:04:05.000Z", [BOX])
    newer = _label(
        "l2",
        "2026-01-03T00:00:00+00:00",
        [],
        reviews=[{"reviewed_at": "2026-01-04T10:00:00Z", "reviewed_by": "r1"}, {"reviewed_at": "2026-01-05T11:00:00Z", "reviewed_by": "r2"}],
    )
    label = parse_export_row(_row([newer, older]))
    assert label.label_id == "l2" and label.boxes == []
    assert label.updated_at == "2026-01-03T00:00:00.000Z"
    assert (label.reviewed_at, label.reviewed_by) == ("2026-01-05T11:00:00.000Z", "r2")


def test_non_box_objects_are_counted_not_converted():
    polygon = {"name": "animal", "annotation_kind": "ImagePolygon", "polygon": [{"x": 1, "y": 2}]}
    label = parse_export_row(_row([_label("l1", "2026-01-02T03:04:05Z", [BOX, polygon])]))
    assert len(label.boxes) == 1 and label.ignored_objects == 1


def test_unlabelled_row_is_none():
    assert parse_export_row(_row([])) is None
    assert parse_export_row(_row([], projects={})) is None


def test_row_in_several_projects_needs_the_project_id():
    projects = {PID: {"labels": [_label("l1", "2026-01-02T03:04:05Z", [BOX])]}, "other": {"labels": []}}
    with pytest.raises(MalformedWebhookError, match="project_id"):
        parse_export_row(_row([], projects=projects))
    assert parse_export_row(_row([], projects=projects), PID).label_id == "l1"
    assert parse_export_row(_row([], projects=projects), "other") is None


def test_v2_webhook_carries_the_label():
    payload = {**_row([_label("l1", "2026-01-02T03:04:05Z", [BOX])]), "event": "LABEL_CREATED"}
    event = parse_webhook(json.dumps(payload).encode())
    assert (event.payload_version, event.event, event.global_key, event.label_id, event.project_id) == (2, "LABEL_CREATED", "cap-1", "l1", PID)
    assert event.label == parse_webhook_label(payload)
    assert event.label.boxes[0]["box"] == [10.0, 20.0, 40.0, 60.0]


def test_v1_webhook_names_the_label_and_leaves_the_fetch_to_the_caller():
    payload = {
        "id": "l9",
        "label": json.dumps({"objects": []}),
        "dataRow": {"id": "dr1", "globalKey": "cap-1"},
        "project": {"id": PID, "name": "p"},
        "event": "LABEL_UPDATED",
    }
    event = parse_webhook(json.dumps(payload))
    assert (event.payload_version, event.label_id, event.global_key, event.project_id, event.event) == (1, "l9", "cap-1", PID, "LABEL_UPDATED")
    assert event.label is None and parse_webhook_label(payload) is None


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'"text"', b'{"hello": 1}', b'{"data_row": {}}', b'{"dataRow": {"globalKey": "k"}}', b"\xff\xfe"],
)
def test_malformed_webhooks_raise_a_value_error(body):
    with pytest.raises(MalformedWebhookError):
        parse_webhook(body)


def test_bad_bounding_box_is_malformed():
    bad = {"name": "animal", "bounding_box": {"top": 1, "left": 2}}
    with pytest.raises(MalformedWebhookError, match="bounding_box"):
        parse_webhook(_row([_label("l1", "2026-01-02T03:04:05Z", [bad])]))


def test_sdk_errors_classify_outages_and_refusals():
    from google.api_core.exceptions import RetryError
    from lbox.exceptions import InternalServerError, InvalidQueryError, NetworkError

    for exc, kind in [
        (NetworkError(ConnectionError("refused")), LabelboxUnavailableError),
        (InternalServerError("502 Bad Gateway"), LabelboxUnavailableError),
        (RetryError("deadline exceeded", None), LabelboxUnavailableError),
        (InvalidQueryError("bad"), LabelboxRejectedError),
        (ValueError("Job failed"), LabelboxRejectedError),
    ]:
        with pytest.raises(kind) as info, sdk_errors("step"):
            raise exc
        assert info.value.action == "step" and info.value.__cause__ is exc
    with pytest.raises(TypeError), sdk_errors("step"):  # a bug is not an outage
        raise TypeError("wrong call")
