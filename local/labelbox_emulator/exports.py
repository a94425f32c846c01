"""Export v2 rows (and the webhook payloads built from them), the shape Labelbox streams.

One row per data row in the project::

    {"data_row": {"id", "global_key", "external_id", "row_data", ["details"]},
     "media_attributes": {"width", "height", "mime_type", "asset_type"},
     "projects": {"<project id>": {"name", "labels": [
         {"id", "label_kind", "version", ["label_details"],
          "annotations": {"objects": [
              {"feature_id", "feature_schema_id", "name", "value", "annotation_kind": "ImageBoundingBox",
               "classifications": [], "bounding_box": {"top", "left", "height", "width"}}],
           "classifications": [], "relationships": []}}],
         ["project_details"]}}}

``label_details`` and the other optional parts appear only when the export
asks for them (``includeLabelDetails`` ...), as on Labelbox. The webhook v2
payload is such a row plus ``event`` and ``webhook`` keys (Labelbox: "the v2
webhook mimics the export payload"); the v1 payload is the legacy shape with
the label as a JSON string.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from .graphql import NotEmulated

if TYPE_CHECKING:
    from .api import Api


def _snake_media(media: Mapping[str, Any]) -> dict[str, Any]:
    out = {"asset_type": media.get("assetType", "image")}
    for src, dst in (("width", "width"), ("height", "height"), ("mimeType", "mime_type")):
        if src in media:
            out[dst] = media[src]
    return out


def label_export(label: Mapping[str, Any], *, details: bool) -> dict[str, Any]:
    """One label as export v2 renders it (boxes in Labelbox's ``top/left/height/width`` pixels)."""
    out: dict[str, Any] = {
        "id": label["id"],
        "label_kind": "Default",
        "version": "1.0.0",
        "annotations": {
            "objects": [
                {
                    "feature_id": obj["featureId"],
                    "feature_schema_id": obj["featureSchemaId"],
                    "name": obj["name"],
                    "value": obj["name"].lower().replace(" ", "_"),
                    "annotation_kind": "ImageBoundingBox",
                    "classifications": [],
                    "bounding_box": dict(obj["bbox"]),
                }
                for obj in label["objects"]
            ],
            "classifications": [],
            "relationships": [],
        },
    }
    if details:
        out["label_details"] = {
            "created_at": label["createdAt"],
            "updated_at": label["updatedAt"],
            "created_by": label["createdBy"],
            "content_last_updated_at": label["updatedAt"],
            "reviews": [
                {"reviewed_at": r["reviewedAt"], "reviewed_by": r["reviewedBy"], "review_action": r["reviewAction"], "label_id": label["id"]}
                for r in label.get("reviews", [])
            ],
        }
    return out


def row_for(api: "Api", project: Mapping[str, Any], data_row: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The export row of ``data_row`` in ``project`` with the parts ``params`` asks for."""
    labels = sorted(
        (lb for lb in api.data["labels"].values() if lb["projectId"] == project["id"] and lb["dataRowId"] == data_row["id"]),
        key=lambda lb: lb["createdAt"],
    )
    dr: dict[str, Any] = {
        "id": data_row["id"],
        "global_key": data_row.get("globalKey"),
        "external_id": data_row.get("externalId"),
        "row_data": data_row["rowData"],
    }
    if params.get("includeDataRowDetails"):
        ds = api.data["datasets"].get(data_row["datasetId"], {})
        dr["details"] = {
            "dataset_id": data_row["datasetId"],
            "dataset_name": ds.get("name"),
            "created_at": data_row["createdAt"],
            "updated_at": data_row["updatedAt"],
            "last_activity_at": data_row["updatedAt"],
            "created_by": api.data["user"]["email"],
        }
    proj: dict[str, Any] = {
        "name": project["name"],
        "labels": [label_export(lb, details=bool(params.get("includeLabelDetails"))) for lb in labels],
    }
    if params.get("includeProjectDetails"):
        batch = next(
            (b for b in api.data["batches"].values() if b["projectId"] == project["id"] and data_row["id"] in b["dataRowIds"]),
            None,
        )
        proj["project_details"] = {
            "batch_id": batch["id"] if batch else None,
            "batch_name": batch["name"] if batch else None,
            "priority": batch.get("priority") if batch else None,
            "workflow_status": "DONE" if labels else "TO_LABEL",
            "selected_label_id": labels[-1]["id"] if labels else None,
            "consensus_expected_label_count": 1,
        }
    return {"data_row": dr, "media_attributes": _snake_media(data_row.get("mediaAttributes") or {}), "projects": {project["id"]: proj}}


def project_rows(api: "Api", project: Mapping[str, Any], search_query: list[Mapping[str, Any]], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows for the project's data rows that pass every filter of the SDK's ``searchQuery``."""
    batches = [b for b in api.data["batches"].values() if b["projectId"] == project["id"]]
    ids: list[str] = []
    for b in sorted(batches, key=lambda b: b["createdAt"]):
        ids.extend(i for i in b["dataRowIds"] if i not in ids)
    rows = [api.data["data_rows"][i] for i in ids if i in api.data["data_rows"]]
    for flt in search_query:
        kind = flt.get("type")
        wanted = set(flt.get("ids") or [])
        if kind == "global_key":
            rows = [r for r in rows if r.get("globalKey") in wanted]
        elif kind == "data_row_id":
            rows = [r for r in rows if r["id"] in wanted]
        elif kind == "batch":
            in_batches = {d for b in batches if b["id"] in wanted for d in b["dataRowIds"]}
            rows = [r for r in rows if r["id"] in in_batches]
        else:
            raise NotEmulated(f"labelbox emulator: export filter of type {kind!r} is not emulated")
    return [row_for(api, project, r, params) for r in rows]


def webhook_payload_v2(api: "Api", project: Mapping[str, Any], data_row: Mapping[str, Any], event: str, webhook_id: str) -> dict[str, Any]:
    """The export row with label and project details, plus what happened: ``event`` and ``webhook``."""
    row = row_for(api, project, data_row, {"includeLabelDetails": True, "includeProjectDetails": True})
    row["event"] = event
    row["webhook"] = {"id": webhook_id, "version": 2}
    return row


def webhook_payload_v1(api: "Api", project: Mapping[str, Any], data_row: Mapping[str, Any], label: Mapping[str, Any], event: str) -> dict[str, Any]:
    """The legacy (v1) label payload: identifiers at the top, the label as a JSON string."""
    ds = api.data["datasets"].get(data_row["datasetId"], {})
    legacy = {
        "objects": [
            {"featureId": o["featureId"], "schemaId": o["featureSchemaId"], "title": o["name"], "value": o["name"], "bbox": dict(o["bbox"])}
            for o in label["objects"]
        ],
        "classifications": [],
        "relationships": [],
    }
    return {
        "id": label["id"],
        "label": json.dumps(legacy),
        "createdAt": label["createdAt"],
        "updatedAt": label["updatedAt"],
        "createdBy": {"id": api.data["user"]["id"], "email": label["createdBy"]},
        "project": {"id": project["id"], "name": project["name"]},
        "dataset": {"id": ds.get("id"), "name": ds.get("name")},
        "dataRow": {
            "id": data_row["id"],
            "externalId": data_row.get("externalId"),
            "globalKey": data_row.get("globalKey"),
            "rowData": data_row["rowData"],
        },
        "secondsToLabel": label.get("secondsToLabel", 0),
        "agreement": None,
        "benchmarkAgreement": None,
        "isBenchmarkReference": False,
        "event": event,
    }
