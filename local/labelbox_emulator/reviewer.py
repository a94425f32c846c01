"""The human in the loop: accept the pre-labels or draw other boxes, then notify webhooks.

``review()`` runs under the store lock and returns the deliveries to make;
the server sends them after releasing the lock (see ``webhooks``). The first
review of a data row in a project creates its label (``LABEL_CREATED``);
later ones update it (``LABEL_UPDATED``), as an edit in the Labelbox editor
would.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from . import exports
from .store import new_id, now_iso

if TYPE_CHECKING:
    from .api import Api


class ControlError(Exception):
    """A control request that cannot be honoured; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bbox_from(item: Mapping[str, Any]) -> dict[str, float]:
    """Accept ``{"box": [x1, y1, x2, y2]}`` (modelobs' convention) or ``{"bbox": {top, left, height, width}}``."""
    if "box" in item:
        x1, y1, x2, y2 = (float(v) for v in item["box"])
        if x2 < x1 or y2 < y1:
            raise ControlError(400, f"box {item['box']} is not [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1")
        return {"top": y1, "left": x1, "height": y2 - y1, "width": x2 - x1}
    if "bbox" in item:
        return {k: float(item["bbox"][k]) for k in ("top", "left", "height", "width")}
    raise ControlError(400, f"each box needs 'box' [x1, y1, x2, y2] or 'bbox' {{top, left, height, width}}: {item}")


def review(api: "Api", body: Mapping[str, Any], default_payload_version: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Create or update the label of ``body['global_key']``; return (answer, deliveries to send)."""
    gk = body.get("global_key")
    if not gk:
        raise ControlError(400, "global_key is required")
    dr = api.data_row_by_key(gk)
    if dr is None:
        raise ControlError(404, f"no data row with global key {gk!r}")
    projects = api._project_ids_of(dr["id"])
    pid = body.get("project_id")
    if pid is None:
        if len(projects) != 1:
            raise ControlError(409, f"data row {gk!r} is in {len(projects)} projects {projects}; pass project_id")
        pid = projects[0]
    elif pid not in projects:
        raise ControlError(409, f"data row {gk!r} is not in project {pid!r} (it is in {projects})")
    project = api.data["projects"][pid]
    tools = {t["name"]: t for t in api.ontology_tools(project)}
    if "boxes" in body:
        objects = []
        for item in body["boxes"]:
            name = item.get("label") or item.get("name")
            if name not in tools:
                raise ControlError(400, f"label {name!r} is not a tool of the project's ontology {sorted(tools)}")
            objects.append({"name": name, "featureSchemaId": tools[name]["featureSchemaId"], "bbox": _bbox_from(item)})
    elif body.get("accept_prelabels", True):
        pre = api.data["prelabels"].get(pid, {}).get(dr["id"], {})
        objects = [{"name": a["name"], "featureSchemaId": a["featureSchemaId"], "bbox": dict(a["bbox"])} for a in pre.values()]
    else:
        raise ControlError(400, "pass accept_prelabels: true or boxes: [...]")
    for obj in objects:
        obj["featureId"] = new_id()

    stamp = now_iso()
    reviewer = body.get("reviewer") or api.data["user"]["email"]
    label = next((lb for lb in api.data["labels"].values() if lb["projectId"] == pid and lb["dataRowId"] == dr["id"]), None)
    if label is None:
        event = "LABEL_CREATED"
        label = {"id": new_id(), "projectId": pid, "dataRowId": dr["id"], "createdAt": stamp, "createdBy": reviewer, "reviews": []}
        api.data["labels"][label["id"]] = label
    else:
        event = "LABEL_UPDATED"
    label.update(objects=objects, updatedAt=stamp, secondsToLabel=float(body.get("seconds_to_label", 12.0)))
    label["reviews"].append({"reviewedAt": stamp, "reviewedBy": reviewer, "reviewAction": body.get("action", "Approve")})

    version = int(body.get("payload_version", default_payload_version))
    deliveries = []
    if body.get("deliver", True):
        for hook in api.data["webhooks"].values():
            if hook["status"] != "ACTIVE" or event not in hook["topics"] or hook.get("projectId") not in (None, pid):
                continue
            if version == 1:
                payload = exports.webhook_payload_v1(api, project, dr, label, event)
            else:
                payload = exports.webhook_payload_v2(api, project, dr, event, hook["id"])
            delivery = {
                "id": new_id(),
                "webhookId": hook["id"],
                "url": hook["url"],
                "event": event,
                "payloadVersion": version,
                "body": json.dumps(payload, separators=(",", ":")),
                "createdAt": stamp,
                "attempts": [],
            }
            api.data["deliveries"][delivery["id"]] = delivery
            deliveries.append(delivery)
    answer = {
        "label_id": label["id"],
        "event": event,
        "project_id": pid,
        "data_row_id": dr["id"],
        "global_key": gk,
        "boxes": [
            {"box": [o["bbox"]["left"], o["bbox"]["top"], o["bbox"]["left"] + o["bbox"]["width"], o["bbox"]["top"] + o["bbox"]["height"]], "label": o["name"]}
            for o in objects
        ],
    }
    return answer, deliveries
