"""Create, or find, what the review loop needs in Labelbox: dataset, ontology, project, webhook.

``ensure_setup`` is idempotent by name: run it on every deploy and a second
run finds what the first made (the oldest object of that name, if a person
made duplicates) and creates nothing. It refuses, with
``LabelboxSetupError``, to silently change what it did not make: a project
already connected to an ontology without the bounding-box tool is reported,
not rewired.

The webhook is matched by URL among the project's active webhooks. Labelbox
never returns a webhook's secret, so an existing webhook is assumed to hold
the configured one; pass ``replace_webhook=True`` after rotating the secret
(the old webhook is deactivated and a new one created).

The ids come back as ``SetupIds``, which the setup CLI stores (SSM
parameters on AWS) and the functions read back with ``SetupIds.from_dict``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from labelbox import Dataset, MediaType, Project, Webhook
from labelbox.schema.ontology import OntologyBuilder, Tool

from .labelbox_errors import LabelboxSetupError, sdk_errors

__all__ = ["SetupIds", "ensure_setup", "WEBHOOK_TOPICS"]

log = logging.getLogger(__name__)

# SDK 7.x has LABEL_* topics only (no REVIEW_*); a review edit is a LABEL_UPDATED.
WEBHOOK_TOPICS = ("LABEL_CREATED", "LABEL_UPDATED")
_BOX_TOOL = Tool.Type.BBOX.value  # "rectangle"


@dataclass(frozen=True)
class SetupIds:
    """Where the review loop lives in Labelbox; ``tool_names`` are the ontology's box tools."""

    dataset_id: str
    project_id: str
    ontology_id: str
    webhook_id: str
    tool_names: tuple[str, ...] = ("animal",)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tool_names"] = list(self.tool_names)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SetupIds":
        return cls(
            dataset_id=str(d["dataset_id"]),
            project_id=str(d["project_id"]),
            ontology_id=str(d["ontology_id"]),
            webhook_id=str(d.get("webhook_id") or ""),
            tool_names=tuple(d.get("tool_names") or ("animal",)),
        )


def _oldest(objects: list[Any], kind: str, name: str) -> Any | None:
    if len(objects) > 1:
        log.warning("%d Labelbox %ss are named %r; using the oldest", len(objects), kind, name)
    return min(objects, key=lambda o: (o.created_at is None, o.created_at)) if objects else None


def _box_tools(ontology: Any) -> tuple[str, ...]:
    return tuple(t["name"] for t in (ontology.normalized or {}).get("tools", []) if t.get("tool") == _BOX_TOOL)


def _ensure_dataset(client: Any, name: str) -> Any:
    found = _oldest(list(client.get_datasets(where=Dataset.name == name)), "dataset", name)
    if found is not None:
        return found
    log.info("creating Labelbox dataset %r", name)
    # No delegated-access integration: images are uploaded to Labelbox, not read from our bucket.
    return client.create_dataset(name=name, iam_integration=None)


def _ensure_ontology(client: Any, name: str, tool_name: str) -> Any:
    exact = [o for o in client.get_ontologies(name) if o.name == name]
    found = _oldest(exact, "ontology", name)
    if found is not None:
        if tool_name not in _box_tools(found):
            raise LabelboxSetupError(
                "setup ontology",
                f"ontology {name!r} ({found.uid}) has no bounding-box tool {tool_name!r} "
                f"(box tools: {list(_box_tools(found))}); add it in Labelbox or choose another ontology name",
            )
        return found
    log.info("creating Labelbox ontology %r with box tool %r", name, tool_name)
    normalized = OntologyBuilder(tools=[Tool(tool=Tool.Type.BBOX, name=tool_name)]).asdict()
    return client.create_ontology(name, normalized, media_type=MediaType.Image)


def _ensure_project(client: Any, name: str, ontology: Any, tool_name: str) -> tuple[Any, Any]:
    project = _oldest(list(client.get_projects(where=Project.name == name)), "project", name)
    if project is None:
        log.info("creating Labelbox project %r", name)
        project = client.create_project(name=name, media_type=MediaType.Image)
    if project.media_type not in (MediaType.Image, MediaType.Unknown):
        raise LabelboxSetupError("setup project", f"project {name!r} ({project.uid}) is for {project.media_type.value}, not images")
    connected = project.ontology()
    if connected is None or not (connected.normalized or {}).get("tools"):
        log.info("connecting ontology %s to project %s", ontology.uid, project.uid)
        with warnings.catch_warnings():  # the SDK warns that it attaches the default editor: expected here
            warnings.filterwarnings("ignore", message="Connecting default labeling editor")
            project.connect_ontology(ontology)
        return project, ontology
    if connected.uid != ontology.uid and tool_name not in _box_tools(connected):
        raise LabelboxSetupError(
            "setup project",
            f"project {name!r} ({project.uid}) is connected to ontology {connected.name!r} ({connected.uid}) "
            f"without a bounding-box tool {tool_name!r}; not rewiring a project that may hold labels",
        )
    return project, connected


def _same_endpoint(a: str, b: str) -> bool:
    """Two URLs of the same receiver at different hosts: a redeployed API keeps its path."""
    from urllib.parse import urlsplit

    return urlsplit(a).path.rstrip("/").endswith("/webhooks/labelbox") and (
        urlsplit(a).path.rsplit("/webhooks/", 1)[1] == urlsplit(b).path.rsplit("/webhooks/", 1)[-1]
    )


def _ensure_webhook(client: Any, project: Any, url: str, secret: str, replace: bool) -> Any:
    for hook in project.webhooks():
        if hook.status != Webhook.Status.ACTIVE.value:
            continue
        if hook.url != url:
            if _same_endpoint(hook.url, url):  # our receiver at its old address: move, do not add
                log.info("deactivating webhook %s: the receiver moved from %s to %s", hook.uid, hook.url, url)
                hook.update(status=Webhook.Status.INACTIVE.value)
            continue
        if replace or not set(WEBHOOK_TOPICS) <= set(hook.topics or []):
            log.info("deactivating webhook %s (%s)", hook.uid, "replacing" if replace else "missing topics")
            hook.update(status=Webhook.Status.INACTIVE.value)
            continue
        return hook
    log.info("creating Labelbox webhook for project %s -> %s", project.uid, url)
    return Webhook.create(client, topics=list(WEBHOOK_TOPICS), url=url, secret=secret, project=project)


def ensure_setup(
    client: Any,
    dataset_name: str,
    project_name: str,
    webhook_url: str,
    webhook_secret: str,
    ontology_name: str = "animal",
    tool_name: str = "animal",
    replace_webhook: bool = False,
) -> SetupIds:
    """Find or create the dataset, ontology (one box tool), project and webhook; return their ids.

    Raises ``LabelboxSetupError`` when the workspace needs a person, and
    ``LabelboxUnavailableError`` / ``LabelboxRejectedError`` when Labelbox fails.
    """
    if not webhook_url.startswith(("https://", "http://")):
        raise ValueError(f"webhook_url must be an http(s) URL, got {webhook_url!r}")
    # The SDK writes url and secret into the GraphQL text unescaped: refuse what would break it.
    for label, value in (("webhook_url", webhook_url), ("webhook_secret", webhook_secret)):
        if not value or any(c in value for c in '"\\\n\r'):
            raise ValueError(f"{label} must be non-empty and contain no quote, backslash or newline")
    with sdk_errors("setup Labelbox"):
        dataset = _ensure_dataset(client, dataset_name)
        ontology = _ensure_ontology(client, ontology_name, tool_name)
        project, ontology = _ensure_project(client, project_name, ontology, tool_name)
        hook = _ensure_webhook(client, project, webhook_url, webhook_secret, replace_webhook)
        return SetupIds(
            dataset_id=dataset.uid,
            project_id=project.uid,
            ontology_id=ontology.uid,
            webhook_id=hook.uid,
            tool_names=_box_tools(ontology),
        )
