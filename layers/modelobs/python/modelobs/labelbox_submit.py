"""Send one capture to Labelbox for review: data row, batch, model-assisted pre-labels.

Every step is safe to repeat, because Lambda retries a failed event and a
retry must not create a second data row or a second set of boxes:

1. Data row, keyed by the capture id as its **global key** (which Labelbox
   keeps unique). It is looked up first; only a missing one is uploaded and
   created. If a concurrent attempt wins the race, creation fails with a
   duplicate global key and the lookup is repeated.
2. Batch: the public SDK cannot append to an existing batch, so each capture
   gets its own, named ``<batch_name>-<global key>`` (unique per project) with
   the given priority. A retry whose batch or data row is already in the
   project gets an error or ``failedDataRowIds`` from Labelbox; membership is
   then confirmed with an export of that one data row, and only a data row
   really missing from the project raises.
3. Pre-labels (``MALPredictionImport``): boxes as Labelbox
   ``bbox {top, left, height, width}`` pixels (clipped to the image), each with
   a uuid derived from the global key and its index, so a re-import replaces
   the same annotations. Confidence scores are not carried by MAL imports;
   they stay in our prediction record. The import is awaited and every
   annotation's status checked.

Any Labelbox failure raises ``LabelboxUnavailableError`` (retry later) or
``LabelboxRejectedError``; nothing is swallowed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from labelbox import MALPredictionImport

from .boxes import xyxy_to_labelbox_bbox
from .labelbox_errors import LabelboxRejectedError, LabelboxUnavailableError, sdk_errors
from .labelbox_setup import SetupIds

__all__ = ["Submission", "submit_for_review", "prelabel_uuid", "prelabel_annotations"]

log = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("5b0c3e1e-8a51-4d8e-9d0b-6d6f64656c6f")  # modelobs pre-labels
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif", "image/bmp": "bmp"}


@dataclass(frozen=True)
class Submission:
    """What Labelbox now holds for one capture; ``created`` is False when a retry found it."""

    global_key: str
    data_row_id: str
    project_id: str
    batch_name: str
    batch_id: str | None  # None when the data row was already in the project
    import_name: str | None  # None when there were no boxes to pre-label
    prelabels: int
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prelabel_uuid(global_key: str, index: int) -> str:
    """Stable annotation uuid: the same capture's box ``index`` always gets the same one."""
    return str(uuid.uuid5(_NAMESPACE, f"{global_key}/{index}"))


def _tool_for(label: str, tool_names: Sequence[str]) -> str:
    if label in tool_names:
        return label
    if len(tool_names) == 1:  # a one-class ontology: every detection is that class
        return tool_names[0]
    raise ValueError(f"label {label!r} is not a box tool of the ontology {list(tool_names)}")


def prelabel_annotations(
    global_key: str,
    boxes_xyxy: Sequence[Sequence[float]],
    labels: Sequence[str],
    width: int,
    height: int,
    tool_names: Sequence[str],
) -> list[dict[str, Any]]:
    """MAL NDJSON annotations for the boxes, clipped to the image; degenerate boxes are dropped."""
    if len(boxes_xyxy) != len(labels):
        raise ValueError(f"{len(boxes_xyxy)} boxes but {len(labels)} labels")
    out = []
    for i, (box, label) in enumerate(zip(boxes_xyxy, labels)):
        x1, y1, x2, y2 = (float(v) for v in box)
        x1, x2 = min(max(x1, 0.0), float(width)), min(max(x2, 0.0), float(width))
        y1, y2 = min(max(y1, 0.0), float(height)), min(max(y2, 0.0), float(height))
        if x2 <= x1 or y2 <= y1:
            log.info("capture %s: box %d %s is empty inside the %dx%d image; not pre-labelled", global_key, i, list(box), width, height)
            continue
        out.append(
            {
                "uuid": prelabel_uuid(global_key, i),
                "dataRow": {"globalKey": global_key},
                "name": _tool_for(str(label), tool_names),
                "bbox": xyxy_to_labelbox_bbox([x1, y1, x2, y2]),
            }
        )
    return out


def _find_data_row(client: Any, global_key: str) -> str | None:
    res = client.get_data_row_ids_for_global_keys([global_key])
    ids = [i for i in res.get("results") or [] if i]
    return ids[0] if ids else None


def _create_data_row(client: Any, dataset_id: str, global_key: str, image: bytes | str, content_type: str, wait_s: float) -> tuple[str, bool]:
    """(data row id, True) when this call created it; (id, False) when a concurrent attempt did."""
    if isinstance(image, (bytes, bytearray)):
        ext = _EXTENSIONS.get(content_type, "bin")
        row_data = client.upload_data(bytes(image), filename=f"{global_key}.{ext}", content_type=content_type)
    else:
        row_data = image
    dataset = client.get_dataset(dataset_id)
    task = dataset.create_data_rows([{"row_data": row_data, "global_key": global_key, "external_id": global_key, "media_type": "IMAGE"}])
    task.wait_till_done(timeout_seconds=wait_s)
    errors = task.errors
    if errors:
        # Most likely a concurrent attempt took the global key first; Labelbox's wording
        # is not relied on: if the key now names a data row, that is ours.
        found = _find_data_row(client, global_key)
        if found:
            return found, False
        raise LabelboxRejectedError(f"create data row {global_key!r}", "; ".join(str(e.get("message")) for e in errors))
    if task.status != "COMPLETE":
        raise LabelboxUnavailableError(f"create data row {global_key!r}", f"upload task {task.uid} is {task.status}")
    created = task.result or []
    if not created:
        raise LabelboxRejectedError(f"create data row {global_key!r}", f"upload task {task.uid} created no data row")
    return str(created[0]["id"]), True


def _in_project(project: Any, global_key: str, wait_s: float) -> bool:
    """True when the data row is in the project (an export of just that row finds it)."""
    task = project.export(filters={"global_keys": [global_key]}, params={"project_details": True})
    task.wait_till_done(timeout_seconds=int(wait_s))
    if task.status != "COMPLETE" or not task.has_result():
        return False
    rows: list[Any] = []
    task.get_buffered_stream().start(lambda out: rows.append(out.json))
    return any((r.get("data_row") or {}).get("global_key") == global_key for r in rows)


def _add_to_project(project: Any, data_row_id: str, global_key: str, batch_name: str, priority: int, wait_s: float) -> str | None:
    action = f"add {global_key!r} to project {project.uid}"
    try:
        with sdk_errors(action):
            batch = project.create_batch(batch_name, data_rows=[data_row_id], priority=priority)
    except LabelboxUnavailableError:
        raise
    except LabelboxRejectedError as exc:
        # A retry: the batch of this capture exists already, or the row is in the project.
        with sdk_errors(action):
            if _in_project(project, global_key, wait_s):
                log.info("capture %s is already in project %s (%s)", global_key, project.uid, exc.message)
                return None
        raise
    if data_row_id in (batch.failed_data_row_ids or []):
        with sdk_errors(action):
            if _in_project(project, global_key, wait_s):
                return batch.uid
        raise LabelboxRejectedError(action, f"batch {batch.uid} did not take the data row")
    return batch.uid


def _import_prelabels(client: Any, project_id: str, global_key: str, annotations: list[dict[str, Any]], poll_s: float) -> str:
    action = f"pre-label {global_key!r}"
    name = f"modelobs-{global_key}-{uuid.uuid4().hex[:12]}"  # unique per attempt; annotation uuids make it idempotent
    with sdk_errors(action):
        job = MALPredictionImport.create_from_objects(client, project_id, name, annotations)
        job.wait_till_done(sleep_time_seconds=max(1, int(poll_s)))
        state = job.state.value
        if state != "FINISHED":
            raise LabelboxRejectedError(action, f"import {name} ended {state}")
        failures = [s for s in job.statuses if s.get("status") != "SUCCESS"]
    if failures:
        detail = "; ".join(f"{f.get('uuid')}: {[e.get('message') for e in f.get('errors') or []]}" for f in failures[:5])
        raise LabelboxRejectedError(action, f"{len(failures)} of {len(annotations)} pre-labels failed: {detail}")
    return name


def submit_for_review(
    client: Any,
    ids: SetupIds,
    global_key: str,
    image: bytes | str,
    boxes_xyxy: Sequence[Sequence[float]],
    labels: Sequence[str],
    width: int,
    height: int,
    batch_name: str,
    *,
    priority: int = 5,
    content_type: str = "image/jpeg",
    import_poll_s: float = 2.0,
    wait_s: float = 120.0,
) -> Submission:
    """Put one capture in front of a reviewer with the model's boxes pre-drawn; safe to retry.

    ``image`` is the image bytes (uploaded to Labelbox) or a URL Labelbox can
    read for as long as the review takes (not a short-lived presigned URL).
    ``priority`` is Labelbox's batch priority, 1 (first) to 5 (last).
    ``wait_s`` bounds each wait on a Labelbox task (upload, export); the MAL
    import is polled every ``import_poll_s`` until it ends, so keep the
    Lambda timeout as the outer bound.
    """
    if not global_key:
        raise ValueError("global_key is required (the capture id)")
    if not 1 <= int(priority) <= 5:
        raise ValueError(f"priority must be 1..5, got {priority}")
    annotations = prelabel_annotations(global_key, boxes_xyxy, labels, width, height, ids.tool_names)
    with sdk_errors(f"find or create data row {global_key!r}"):
        data_row_id = _find_data_row(client, global_key)
        created = False
        if data_row_id is None:
            data_row_id, created = _create_data_row(client, ids.dataset_id, global_key, image, content_type, wait_s)
        project = client.get_project(ids.project_id)
    name = f"{batch_name}-{global_key}"
    batch_id = _add_to_project(project, data_row_id, global_key, name, int(priority), wait_s)
    import_name = _import_prelabels(client, ids.project_id, global_key, annotations, import_poll_s) if annotations else None
    return Submission(
        global_key=global_key,
        data_row_id=data_row_id,
        project_id=ids.project_id,
        batch_name=name,
        batch_id=batch_id,
        import_name=import_name,
        prelabels=len(annotations),
        created=created,
    )
