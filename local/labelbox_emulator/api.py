"""Labelbox's GraphQL API as nodes over the store: what the SDK 7.17 calls of the review loop need.

Each ``*_node`` turns a stored object into the dict the executor projects
selections over: every field the SDK's ORM selects for that type (see
``labelbox.orm.query.results_query_part``), plus callables for relationships
and for the mutations Labelbox nests under an object (``project(where:)
{createBatchV2(...)}``). Roots are ``query`` and ``mutation``. A field or
operation that is not here answers with an error naming it (see
``graphql.NotEmulated``), so the next gap is obvious.

Semantics follow Labelbox where the review loop depends on them: a global
key names at most one data row; a data row joins a project through a batch,
once; batch names are unique within a project; MAL pre-labels need the data
row in the project and a tool of the project's ontology, and are keyed by the
annotation ``uuid`` (a re-import of the same uuid replaces, not duplicates);
exports list the project's data rows with their labels.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Callable, Mapping

from . import exports
from .graphql import GraphQLFault, NotEmulated
from .store import Store, image_size, new_id, now_iso

Node = dict[str, Any]

TOOL_KINDS = {"rectangle": "bbox"}


class FileUpload:
    """An uploaded multipart file, standing in for the ``Upload`` scalar in variables."""

    def __init__(self, filename: str, content_type: str | None, content: bytes) -> None:
        self.filename = filename
        self.content_type = content_type
        self.content = content


def _conflict(message: str) -> GraphQLFault:
    return GraphQLFault(message, "RESOURCE_CONFLICT")


def _bad_request(message: str) -> GraphQLFault:
    # INTERNAL_SERVER_ERROR with status 400 is how Labelbox reports most client errors;
    # the SDK raises InvalidQueryError for it.
    return GraphQLFault(message, "INTERNAL_SERVER_ERROR", status=400)


def where_matches(obj: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    """Evaluate the SDK's ``where`` clause (field, ``field_not``/``_lt``/``_gt``/..., AND/OR/NOT)."""
    if not where:
        return True
    for key, want in where.items():
        if key == "AND":
            if not all(where_matches(obj, w) for w in want):
                return False
            continue
        if key == "OR":
            if not any(where_matches(obj, w) for w in want):
                return False
            continue
        if key == "NOT":
            if any(where_matches(obj, w) for w in want):
                return False
            continue
        name, _, op = key.partition("_")
        field = key if key in obj or not op else name
        op = "" if field == key else op
        have = obj.get(field, False if field == "deleted" else None)
        if op == "" and have != want:
            return False
        if op == "not" and have == want:
            return False
        if op in ("lt", "gt", "lte", "gte"):
            if have is None:
                return False
            if op == "lt" and not have < want:
                return False
            if op == "gt" and not have > want:
                return False
            if op == "lte" and not have <= want:
                return False
            if op == "gte" and not have >= want:
                return False
        if op not in ("", "not", "lt", "gt", "lte", "gte"):
            raise NotEmulated(f"labelbox emulator: where-clause operator {key!r} is not emulated")
    return True


def _page(items: list[Any], args: Mapping[str, Any]) -> list[Any]:
    skip = int(args.get("skip") or 0)
    first = args.get("first")
    return items[skip : skip + int(first)] if first is not None else items[skip:]


class Api:
    """Builds root nodes for one request; ``base_url`` is where files are served (``/_files``)."""

    def __init__(self, store: Store, base_url: str) -> None:
        self.store = store
        self.base_url = base_url.rstrip("/")
        self.data = store.data

    # --- helpers -----------------------------------------------------------------------

    def file_url(self, fid: str, start: int | None = None) -> str:
        meta = self.data["files"][fid]
        url = f"{self.base_url}/_files/{fid}/{urllib.parse.quote(meta['filename'])}"
        return url if start is None else f"{url}?start={start}"

    def blob_from_url(self, url: str) -> bytes | None:
        """Bytes behind one of our own ``/_files`` URLs (manifests and chunks the SDK uploaded)."""
        path = urllib.parse.urlparse(url).path
        parts = path.split("/")
        if len(parts) >= 3 and parts[1] == "_files":
            got = self.store.get_blob(parts[2])
            return got[1] if got else None
        return None

    def _get(self, collection: str, oid: str | None, what: str) -> dict[str, Any]:
        obj = self.data[collection].get(oid or "")
        if obj is None or obj.get("deleted"):
            raise GraphQLFault(f"{what} {oid!r} not found", "RESOURCE_NOT_FOUND")
        return obj

    def _project_ids_of(self, data_row_id: str) -> list[str]:
        return sorted({b["projectId"] for b in self.data["batches"].values() if data_row_id in b["dataRowIds"]})

    def data_row_by_key(self, global_key: str) -> dict[str, Any] | None:
        for dr in self.data["data_rows"].values():
            if dr.get("globalKey") == global_key and not dr.get("deleted"):
                return dr
        return None

    def ontology_tools(self, project: Mapping[str, Any]) -> list[dict[str, Any]]:
        onto = self.data["ontologies"].get(project.get("ontologyId") or "")
        return list((onto or {}).get("normalized", {}).get("tools", []))

    # --- nodes -------------------------------------------------------------------------

    def user_node(self) -> Node:
        u = dict(self.data["user"])
        u["__typename"] = "User"
        u["createdTasks"] = lambda a: [
            self.task_node(t) for t in _page([t for t in self.data["tasks"].values() if where_matches(t, a.get("where"))], a)
        ]
        u["organization"] = lambda a: self.org_node()
        return u

    def org_node(self) -> Node:
        o = dict(self.data["organization"])
        o["__typename"] = "Organization"
        o["webhooks"] = lambda a: [
            self.webhook_node(w)
            for w in _page([w for w in self.data["webhooks"].values() if where_matches(w, a.get("where"))], a)
        ]
        return o

    def dataset_node(self, d: Mapping[str, Any]) -> Node:
        rows = [r for r in self.data["data_rows"].values() if r["datasetId"] == d["id"] and not r.get("deleted")]
        return {
            "__typename": "Dataset",
            "id": d["id"],
            "name": d["name"],
            "description": d.get("description"),
            "createdAt": d["createdAt"],
            "updatedAt": d["updatedAt"],
            "rowCount": len(rows),
        }

    def data_row_node(self, dr: Mapping[str, Any]) -> Node:
        return {
            "__typename": "DataRow",
            "id": dr["id"],
            "createdAt": dr["createdAt"],
            "updatedAt": dr["updatedAt"],
            "externalId": dr.get("externalId"),
            "globalKey": dr.get("globalKey"),
            "rowData": dr["rowData"],
            "mediaAttributes": dr.get("mediaAttributes") or {},
            "customMetadata": [],
            "metadataFields": [],
            "dataset": lambda a: self.dataset_node(self.data["datasets"][dr["datasetId"]]),
        }

    def ontology_node(self, o: Mapping[str, Any]) -> Node:
        normalized = o["normalized"]
        return {
            "__typename": "Ontology",
            "id": o["id"],
            "name": o["name"],
            "description": o.get("description"),
            "createdAt": o["createdAt"],
            "updatedAt": o["updatedAt"],
            "normalized": normalized,
            "mediaType": o.get("mediaType"),
            "objectSchemaCount": len(normalized.get("tools", [])),
            "classificationSchemaCount": len(normalized.get("classifications", [])),
            "projects": lambda a: [
                self.project_node(p) for p in self.data["projects"].values() if p.get("ontologyId") == o["id"]
            ],
        }

    def labeling_frontend_node(self, lf: Mapping[str, Any]) -> Node:
        return {"__typename": "LabelingFrontend", **lf}

    def batch_node(self, b: Mapping[str, Any]) -> Node:
        return {
            "__typename": "Batch",
            "id": b["id"],
            "name": b["name"],
            "createdAt": b["createdAt"],
            "updatedAt": b["updatedAt"],
            "size": len(b["dataRowIds"]),
            "consensusSettingsJson": b.get("consensusSettings"),
        }

    def webhook_node(self, w: Mapping[str, Any]) -> Node:
        return {
            "__typename": "Webhook",
            "id": w["id"],
            "url": w["url"],
            "topics": list(w["topics"]),
            "status": w["status"],
            "createdAt": w["createdAt"],
            "updatedAt": w["updatedAt"],
            "project": lambda a: self.project_node(self.data["projects"][w["projectId"]]) if w.get("projectId") else None,
        }

    def project_node(self, p: dict[str, Any]) -> Node:
        pid = p["id"]
        labels = [lb for lb in self.data["labels"].values() if lb["projectId"] == pid]
        return {
            "__typename": "Project",
            "id": pid,
            "name": p["name"],
            "description": p.get("description"),
            "createdAt": p["createdAt"],
            "updatedAt": p["updatedAt"],
            "setupComplete": p.get("setupComplete"),
            "lastActivityTime": p.get("updatedAt"),
            "autoAuditNumberOfLabels": 1,
            "autoAuditPercentage": 1.0,
            "allowedMediaType": p.get("mediaType"),
            "editorTaskType": p.get("editorTaskType"),
            "dataRowCount": len({d for b in self.data["batches"].values() if b["projectId"] == pid for d in b["dataRowIds"]}),
            "modelSetupComplete": False,
            "uploadType": "Manual",
            "isBenchmarkEnabled": bool(p.get("isBenchmarkEnabled")),
            "isConsensusEnabled": bool(p.get("isConsensusEnabled")),
            "labelCount": len(labels),
            "ontology": lambda a: self.ontology_node(self.data["ontologies"][p["ontologyId"]]) if p.get("ontologyId") else None,
            "labelingFrontend": lambda a: (
                self.labeling_frontend_node(self.data["labeling_frontends"][p["labelingFrontendId"]])
                if p.get("labelingFrontendId")
                else None
            ),
            "webhooks": lambda a: [
                self.webhook_node(w)
                for w in _page(
                    [w for w in self.data["webhooks"].values() if w.get("projectId") == pid and where_matches(w, a.get("where"))],
                    a,
                )
            ],
            "batches": lambda a: {
                "nodes": [self.batch_node(b) for b in self.data["batches"].values() if b["projectId"] == pid],
                "pageInfo": {"endCursor": None},
            },
            "connectOntology": lambda a: self._connect_ontology(p, a),
            "createBatchV2": lambda a: self._create_batch(p, a["input"]),
        }

    def task_node(self, t: Mapping[str, Any]) -> Node:
        node = {k: v for k, v in t.items() if not k.startswith("_")}
        node["__typename"] = "Task"
        node["exportMetadataHeader"] = lambda a: self._export_header(t, a["streamType"])
        node["exportFileFromOffset"] = lambda a: self._export_file(t, a["streamType"], int(a["offset"]))
        node["createdBy"] = lambda a: self.user_node()
        node["organization"] = lambda a: self.org_node()
        return node

    def import_node(self, imp: Mapping[str, Any]) -> Node:
        return {
            "__typename": "ModelAssistedLabelingPredictionImport",
            "id": imp["id"],
            "name": imp["name"],
            "state": imp["state"],
            "progress": imp["progress"],
            "inputFileUrl": self.file_url(imp["inputFileId"]),
            "statusFileUrl": self.file_url(imp["statusFileId"]),
            "errorFileUrl": self.file_url(imp["errorFileId"]),
            "project": self.project_node(self.data["projects"][imp["projectId"]]),
        }

    # --- roots -------------------------------------------------------------------------

    def roots(self) -> dict[str, Node]:
        d = self.data
        query: Node = {
            "user": lambda a: self.user_node(),
            "organization": lambda a: self.org_node(),
            "datasets": lambda a: [
                self.dataset_node(x) for x in _page([x for x in d["datasets"].values() if where_matches(x, a.get("where"))], a)
            ],
            "dataset": lambda a: self._single("datasets", a, self.dataset_node),
            "projects": lambda a: [
                self.project_node(x) for x in _page([x for x in d["projects"].values() if where_matches(x, a.get("where"))], a)
            ],
            "project": lambda a: self._single("projects", a, self.project_node),
            "dataRow": lambda a: self._single("data_rows", a, self.data_row_node),
            "ontology": lambda a: self._single("ontologies", a, self.ontology_node),
            "ontologies": lambda a: self._ontologies(a),
            "labelingFrontends": lambda a: [
                self.labeling_frontend_node(x)
                for x in _page([x for x in d["labeling_frontends"].values() if where_matches(x, a.get("where"))], a)
            ],
            "queryAllDataRowsHaveBeenProcessed": lambda a: {"allDataRowsHaveBeenProcessed": True},
            "dataRowsForGlobalKeys": lambda a: self._gk_job(a["where"]["ids"]),
            "dataRowsForGlobalKeysResult": lambda a: self._gk_result(a["jobId"]["id"]),
            "failedDataRowImports": lambda a: self._upsert_failures(a["data"]),
            "successesfulDataRowImports": lambda a: self._upsert_successes(a["data"]),
            "modelAssistedLabelingPredictionImport": lambda a: self._import_by_name(a["where"]),
            "task": lambda a: self.task_node(self._get("tasks", a["where"]["id"], "Task")),
            "customMetadataOntology": lambda a: [],  # no custom metadata schemas in this workspace
            "datasetDataRows": lambda a: self._dataset_rows(a),
            "modelAssistedLabelingPredictionImports": lambda a: [
                self.import_node(i)
                for i in _page([i for i in d["imports"].values() if i["projectId"] == (a.get("where") or {}).get("projectId")], a)
            ],
            "__typename": "Query",
        }
        mutation: Node = {
            "uploadFile": lambda a: self._upload_file(a),
            "createDataset": lambda a: self._create_dataset(a["data"]),
            "upsertDataRows": lambda a: self._upsert_data_rows(a["data"]["manifestUri"]),
            "createProject": lambda a: self._create_project(a["data"]),
            "upsertOntology": lambda a: self._upsert_ontology(a["data"]),
            "updateProject": lambda a: self._update_project(a["where"], a["data"]),
            "createLabelingFrontendOptions": lambda a: self._create_lfo(a["data"]),
            "project": lambda a: self._single("projects", a, self.project_node),
            "createWebhook": lambda a: self._create_webhook(a["data"]),
            "updateWebhook": lambda a: self._update_webhook(a["where"], a["data"]),
            "createModelAssistedLabelingPredictionImport": lambda a: self._create_mal_import(a["data"]),
            "exportDataRowsInProject": lambda a: self._export_project(a["input"]),
            "__typename": "Mutation",
        }
        return {"query": query, "mutation": mutation}

    def _single(self, collection: str, args: Mapping[str, Any], to_node: Callable[[Any], Node]) -> Node | None:
        where = args.get("where") or {}
        obj = self.data[collection].get(where.get("id", ""))
        if obj is None or obj.get("deleted"):
            return None  # the SDK turns a null object into ResourceNotFoundError
        return to_node(obj)

    # --- files and data rows -----------------------------------------------------------

    def _upload_file(self, args: Mapping[str, Any]) -> Node:
        upload = args.get("file")
        if not isinstance(upload, FileUpload):
            raise _bad_request("uploadFile: no file part in the multipart request")
        fid = self.store.put_blob(upload.content, upload.filename, upload.content_type)
        return {"url": self.file_url(fid), "filename": upload.filename}

    def _create_dataset(self, data: Mapping[str, Any]) -> Node:
        stamp = now_iso()
        ds = {"id": new_id(), "name": data["name"], "description": data.get("description"), "createdAt": stamp, "updatedAt": stamp, "deleted": False}
        self.data["datasets"][ds["id"]] = ds
        return self.dataset_node(ds)

    def _upsert_data_rows(self, manifest_uri: str) -> Node:
        manifest_blob = self.blob_from_url(manifest_uri)
        if manifest_blob is None:
            raise _bad_request(f"manifest {manifest_uri!r} was not uploaded to this server")
        manifest = json.loads(manifest_blob)
        specs: list[dict[str, Any]] = []
        for uri in manifest["chunk_uris"]:
            chunk = self.blob_from_url(uri)
            if chunk is None:
                raise _bad_request(f"chunk {uri!r} was not uploaded to this server")
            specs.extend(json.loads(chunk))
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for spec in specs:
            key = spec.get("id") or {"type": "AUTO", "value": ""}
            payload = spec.get("payload") or {}
            try:
                created.append(self._upsert_one(key, payload))
            except ValueError as exc:
                failed.append({"message": str(exc), "spec": payload})
        stamp = now_iso()
        task = {
            "id": new_id(),
            "name": "Upsert data rows",
            "type": "adv-upsert-data-rows",
            "status": "COMPLETE",
            "completionPercentage": 100.0,
            "createdAt": stamp,
            "updatedAt": stamp,
            "result": None,
            "errors": None,
            "metadata": {},
            "_created": [dr["id"] for dr in created],
            "_failed": failed,
        }
        self.data["tasks"][task["id"]] = task
        return self.task_node(task)

    def _upsert_one(self, key: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
        kind, value = key.get("type", "AUTO"), key.get("value")
        existing: dict[str, Any] | None = None
        if kind == "ID":
            existing = self.data["data_rows"].get(value)
            if existing is None:
                raise ValueError(f"Data row with id {value!r} not found")
        elif kind == "GKEY":
            existing = self.data_row_by_key(value)
        elif kind != "AUTO":
            raise ValueError(f"unknown key type {kind!r}")
        gk = payload.get("global_key")
        if gk:
            holder = self.data_row_by_key(gk)
            if holder is not None and holder is not existing:
                raise ValueError(f"Duplicate global key: '{gk}' is already used by data row {holder['id']}")
        stamp = now_iso()
        if existing is None:
            if not payload.get("row_data"):
                raise ValueError("row_data is required to create a data row")
            existing = {"id": new_id(), "createdAt": stamp, "deleted": False, "datasetId": payload["dataset_id"]}
            if payload["dataset_id"] not in self.data["datasets"]:
                raise ValueError(f"dataset {payload['dataset_id']!r} not found")
            self.data["data_rows"][existing["id"]] = existing
        existing["updatedAt"] = stamp
        if "row_data" in payload:
            existing["rowData"] = payload["row_data"]
            blob = self.blob_from_url(payload["row_data"]) if isinstance(payload["row_data"], str) else None
            size = image_size(blob) if blob else None
            existing["mediaAttributes"] = (
                {"width": size[0], "height": size[1], "mimeType": size[2], "assetType": "image"} if size else {}
            )
        for src, dst in (("global_key", "globalKey"), ("external_id", "externalId"), ("media_type", "mediaType")):
            if src in payload:
                existing[dst] = payload[src]
        existing.setdefault("globalKey", None)
        existing.setdefault("externalId", None)
        return existing

    def _task_lists(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return self._get("tasks", data["taskId"], "Task")

    def _upsert_failures(self, data: Mapping[str, Any]) -> Node:
        task = self._task_lists(data)
        results = [
            {
                "message": f["message"],
                "spec": {
                    "externalId": f["spec"].get("external_id"),
                    "globalKey": f["spec"].get("global_key"),
                    "rowData": f["spec"].get("row_data"),
                    "metadata": f["spec"].get("metadata_fields") or [],
                    "attachments": f["spec"].get("attachments") or [],
                },
            }
            for f in task.get("_failed", [])
        ]
        return {"after": None, "total": len(results), "results": results}

    def _upsert_successes(self, data: Mapping[str, Any]) -> Node:
        task = self._task_lists(data)
        nodes = [self.data["data_rows"][i] for i in task.get("_created", []) if i in self.data["data_rows"]]
        return {
            "after": None,
            "total": len(nodes),
            "nodes": [{"id": n["id"], "externalId": n.get("externalId"), "globalKey": n.get("globalKey"), "rowData": n["rowData"]} for n in nodes],
        }

    def _gk_job(self, keys: list[str]) -> Node:
        job_id = new_id()
        self.data["gk_jobs"][job_id] = {"id": job_id, "keys": list(keys)}
        return {"jobId": job_id}

    def _gk_result(self, job_id: str) -> Node:
        job = self._get("gk_jobs", job_id, "Job")
        fetched, missing = [], []
        for key in job["keys"]:
            dr = self.data_row_by_key(key)
            fetched.append({"id": dr["id"] if dr else ""})
            if dr is None:
                missing.append(key)
        return {
            "jobStatus": "COMPLETE",
            "data": {"fetchedDataRows": fetched, "notFoundGlobalKeys": missing, "accessDeniedGlobalKeys": []},
        }

    def _dataset_rows(self, args: Mapping[str, Any]) -> Node:
        self._get("datasets", args.get("id"), "Dataset")
        rows = [r for r in self.data["data_rows"].values() if r["datasetId"] == args["id"] and not r.get("deleted")]
        rows = [r for r in rows if where_matches(r, args.get("where"))]
        return {"nodes": [self.data_row_node(r) for r in rows], "pageInfo": {"hasNextPage": False, "startCursor": None}}

    # --- ontologies and projects -------------------------------------------------------

    def _ontologies(self, args: Mapping[str, Any]) -> Node:
        where = args.get("where") or {}
        search = (where.get("search") or "").lower()
        found = [o for o in self.data["ontologies"].values() if search in o["name"].lower()]
        return {"nodes": [self.ontology_node(o) for o in found], "nextCursor": None}

    def _upsert_ontology(self, data: Mapping[str, Any]) -> Node:
        normalized = data.get("normalized") or "{}"
        normalized = json.loads(normalized) if isinstance(normalized, str) else dict(normalized)
        normalized.setdefault("tools", [])
        normalized.setdefault("classifications", [])
        for tool in normalized["tools"]:
            tool["featureSchemaId"] = tool.get("featureSchemaId") or new_id()
            tool["schemaNodeId"] = tool.get("schemaNodeId") or new_id()
            tool.setdefault("classifications", [])
        for cls in normalized["classifications"]:
            cls["featureSchemaId"] = cls.get("featureSchemaId") or new_id()
            cls["schemaNodeId"] = cls.get("schemaNodeId") or new_id()
        stamp = now_iso()
        onto = {
            "id": new_id(),
            "name": data["name"],
            "description": data.get("description"),
            "normalized": normalized,
            "mediaType": data.get("mediaType"),
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.data["ontologies"][onto["id"]] = onto
        return self.ontology_node(onto)

    def _create_project(self, data: Mapping[str, Any]) -> Node:
        stamp = now_iso()
        p = {
            "id": new_id(),
            "name": data["name"],
            "description": data.get("description"),
            "mediaType": data.get("allowedMediaType") or data.get("mediaType"),
            "editorTaskType": data.get("editorTaskType"),
            "isBenchmarkEnabled": data.get("isBenchmarkEnabled"),
            "isConsensusEnabled": data.get("isConsensusEnabled"),
            "createdAt": stamp,
            "updatedAt": stamp,
            "setupComplete": None,
            "deleted": False,
            "ontologyId": None,
            "labelingFrontendId": None,
        }
        self.data["projects"][p["id"]] = p
        return self.project_node(p)

    def _update_project(self, where: Mapping[str, Any], data: Mapping[str, Any]) -> Node:
        p = self._get("projects", where.get("id"), "Project")
        for key, value in data.items():
            if key == "labelingFrontend" and isinstance(value, Mapping) and "connect" in value:
                lf_id = value["connect"]["id"]
                self._get("labeling_frontends", lf_id, "LabelingFrontend")
                p["labelingFrontendId"] = lf_id
            elif key in ("name", "description"):
                p[key] = value
            elif key == "deleted":
                p["deleted"] = bool(value)
            else:
                raise NotEmulated(f"labelbox emulator: updateProject of {key!r} is not emulated")
        p["updatedAt"] = now_iso()
        return self.project_node(p)

    def _create_lfo(self, data: Mapping[str, Any]) -> Node:
        pid = data["project"]["connect"]["id"]
        p = self._get("projects", pid, "Project")
        lfo = {"id": new_id(), "projectId": pid, "customizationOptions": data.get("customizationOptions")}
        self.data["lfos"][lfo["id"]] = lfo
        p["setupComplete"] = p.get("setupComplete") or now_iso()
        return {"__typename": "LabelingFrontendOptions", "id": lfo["id"], "customizationOptions": lfo["customizationOptions"]}

    def _connect_ontology(self, p: dict[str, Any], args: Mapping[str, Any]) -> Node:
        onto = self._get("ontologies", args["ontologyId"], "Ontology")
        p["ontologyId"] = onto["id"]
        p["setupComplete"] = p.get("setupComplete") or now_iso()
        p["updatedAt"] = now_iso()
        return self.project_node(p)

    def _create_batch(self, p: dict[str, Any], batch_input: Mapping[str, Any]) -> Node:
        name = batch_input["name"]
        if any(b["projectId"] == p["id"] and b["name"] == name for b in self.data["batches"].values()):
            raise _conflict(f"Batch with name '{name}' already exists in project {p['id']}")
        wanted: list[str] = []
        failed: list[str] = []
        for dr_id in batch_input.get("dataRowIds") or []:
            (wanted if dr_id in self.data["data_rows"] else failed).append(dr_id)
        for key in batch_input.get("globalKeys") or []:
            dr = self.data_row_by_key(key)
            if dr is None:
                failed.append(key)
            else:
                wanted.append(dr["id"])
        added = []
        for dr_id in wanted:
            if p["id"] in self._project_ids_of(dr_id) or dr_id in added:
                failed.append(dr_id)  # already in the project: Labelbox does not add it twice
            else:
                added.append(dr_id)
        if not added:
            raise _bad_request(
                f"Batch '{name}' would be empty: none of the data rows can be added to project {p['id']} "
                f"(not found or already in the project: {failed})"
            )
        stamp = now_iso()
        batch = {
            "id": new_id(),
            "projectId": p["id"],
            "name": name,
            "dataRowIds": added,
            "priority": batch_input.get("priority"),
            "consensusSettings": batch_input.get("consensusSettings"),
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.data["batches"][batch["id"]] = batch
        return {"batch": self.batch_node(batch), "failedDataRowIds": failed}

    # --- webhooks ----------------------------------------------------------------------

    def _create_webhook(self, data: Mapping[str, Any]) -> Node:
        project = data.get("project")
        pid = project.get("id") if isinstance(project, Mapping) else None
        if pid:
            self._get("projects", pid, "Project")
        topics = (data.get("topics") or {}).get("set") or []
        if not data.get("url") or not data.get("secret") or not topics:
            raise _bad_request("createWebhook needs url, secret and at least one topic")
        stamp = now_iso()
        hook = {
            "id": new_id(),
            "projectId": pid,
            "url": data["url"],
            "secret": data["secret"],
            "topics": list(topics),
            "status": "ACTIVE",
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        self.data["webhooks"][hook["id"]] = hook
        return self.webhook_node(hook)

    def _update_webhook(self, where: Mapping[str, Any], data: Mapping[str, Any]) -> Node:
        hook = self._get("webhooks", where.get("id"), "Webhook")
        if "topics" in data:
            hook["topics"] = list((data["topics"] or {}).get("set") or [])
        if "url" in data:
            hook["url"] = data["url"]
        if "status" in data:
            hook["status"] = data["status"]
        hook["updatedAt"] = now_iso()
        return self.webhook_node(hook)

    # --- model-assisted labeling imports -----------------------------------------------

    def _create_mal_import(self, data: Mapping[str, Any]) -> Node:
        p = self._get("projects", data.get("projectId"), "Project")
        payload = data.get("filePayload") or {}
        upload = payload.get("file")
        if isinstance(upload, FileUpload):
            raw = upload.content
        elif data.get("fileUrl"):
            raw = self.blob_from_url(data["fileUrl"])
            if raw is None:
                raise _bad_request(f"fileUrl {data['fileUrl']!r} cannot be fetched from the emulator")
        else:
            raise _bad_request("createModelAssistedLabelingPredictionImport needs filePayload.file or fileUrl")
        statuses, errors = self._apply_prelabels(p, raw.decode("utf-8"))
        name = data["name"]
        imp = {
            "id": new_id(),
            "projectId": p["id"],
            "name": name,
            "state": "FINISHED",
            "progress": "100%",
            "createdAt": now_iso(),
            "inputFileId": self.store.put_blob(raw, f"{name}.ndjson", "application/x-ndjson"),
            "statusFileId": self.store.put_blob(_ndjson(statuses), f"{name}.status.ndjson", "application/x-ndjson"),
            "errorFileId": self.store.put_blob(_ndjson(errors), f"{name}.errors.ndjson", "application/x-ndjson"),
        }
        self.data["imports"][imp["id"]] = imp
        return self.import_node(imp)

    def _apply_prelabels(self, p: Mapping[str, Any], text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        tools = {t["name"]: t for t in self.ontology_tools(p)}
        tools_by_schema = {t["featureSchemaId"]: t for t in tools.values()}
        statuses: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        store = self.data["prelabels"].setdefault(p["id"], {})
        for line in text.splitlines():
            if not line.strip():
                continue
            ann = json.loads(line)
            ref = ann.get("dataRow") or {}
            dr = self.data_row_by_key(ref["globalKey"]) if ref.get("globalKey") else self.data["data_rows"].get(ref.get("id", ""))
            problems = []
            tool = tools.get(ann.get("name", "")) or tools_by_schema.get(ann.get("schemaId", ""))
            if not ann.get("uuid"):
                problems.append("annotation has no uuid")
            if dr is None:
                problems.append(f"data row {ref} not found")
            elif p["id"] not in self._project_ids_of(dr["id"]):
                problems.append(f"data row {dr['id']} is not in project {p['id']}; add it with a batch first")
            if tool is None:
                problems.append(f"no tool named {ann.get('name') or ann.get('schemaId')!r} in the project's ontology")
            elif TOOL_KINDS.get(tool["tool"]) not in ann:
                problems.append(f"tool {tool['name']!r} is a {tool['tool']}; the annotation has no {TOOL_KINDS.get(tool['tool'], tool['tool'])!r}")
            else:
                bbox = ann.get("bbox") or {}
                try:
                    vals = {k: float(bbox[k]) for k in ("top", "left", "height", "width")}
                    if vals["height"] < 0 or vals["width"] < 0:
                        problems.append(f"bbox has a negative size: {bbox}")
                except (KeyError, TypeError, ValueError):
                    problems.append(f"bbox must have numeric top, left, height, width: {bbox}")
            status = {"uuid": ann.get("uuid"), "dataRow": {"id": dr["id"] if dr else None, "globalKey": (dr or {}).get("globalKey")}}
            if problems:
                status.update(status="FAILURE", errors=[{"name": "ValidationError", "message": m} for m in problems])
                errors.append(status)
            else:
                status.update(status="SUCCESS")
                store.setdefault(dr["id"], {})[ann["uuid"]] = {
                    "uuid": ann["uuid"],
                    "name": tool["name"],
                    "featureSchemaId": tool["featureSchemaId"],
                    "bbox": {k: float(ann["bbox"][k]) for k in ("top", "left", "height", "width")},
                    "importedAt": now_iso(),
                }
            statuses.append(status)
        return statuses, errors

    def _import_by_name(self, where: Mapping[str, Any]) -> Node | None:
        found = [i for i in self.data["imports"].values() if i["projectId"] == where.get("projectId") and i["name"] == where.get("name")]
        return self.import_node(found[-1]) if found else None

    # --- exports -----------------------------------------------------------------------

    def _export_project(self, inp: Mapping[str, Any]) -> Node:
        filters = inp.get("filters") or {}
        p = self._get("projects", filters.get("projectId"), "Project")
        params = inp.get("params") or {}
        rows = exports.project_rows(self, p, (filters.get("searchQuery") or {}).get("query") or [], params)
        body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode("utf-8")
        stamp = now_iso()
        task = {
            "id": new_id(),
            "name": inp.get("taskName") or f"Export v2: {p['name']}",
            "type": "export-data-rows",
            "status": "COMPLETE",
            "completionPercentage": 100.0,
            "createdAt": stamp,
            "updatedAt": stamp,
            "result": None,
            "errors": None,
            "metadata": {},
            "_resultFileId": self.store.put_blob(body, "export.ndjson", "application/x-ndjson") if body else None,
            "_resultLines": len(rows),
            "_resultSize": len(body),
        }
        self.data["tasks"][task["id"]] = task
        return {"taskId": task["id"], "isStreamable": True}

    def _export_header(self, t: Mapping[str, Any], stream: str) -> Node | None:
        if stream != "RESULT" or not t.get("_resultFileId"):
            return None
        return {"totalSize": t["_resultSize"], "totalLines": t["_resultLines"]}

    def _export_file(self, t: Mapping[str, Any], stream: str, offset: int) -> Node | None:
        if stream != "RESULT" or not t.get("_resultFileId"):
            return None
        got = self.store.get_blob(t["_resultFileId"])
        assert got is not None
        body = got[1]
        if offset >= len(body):
            raise _bad_request(f"offset {offset} is past the end of the export ({len(body)} bytes)")
        first_line = body[:offset].count(b"\n")
        return {
            "offsets": {"start": offset, "end": len(body) - 1},
            "lines": {"start": first_line, "end": t["_resultLines"] - 1},
            "file": self.file_url(t["_resultFileId"], start=offset),
        }


def _ndjson(rows: list[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8")
