"""The review loop on the real Labelbox SDK 7.17 against the local emulator: setup, submit, review, webhook, fetch.

One emulator (in-process, loopback, free port) and one webhook receiver
serve the module; tests use their own global keys or names so they do not
see each other's objects. Faults are reset after every test.
"""

from __future__ import annotations

import io
import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("labelbox")

from modelobs.boxes import labelbox_bbox_to_xyxy  # noqa: E402
from modelobs.labelbox_connect import connect  # noqa: E402
from modelobs.labelbox_errors import LabelboxError, LabelboxRejectedError, LabelboxSetupError, LabelboxUnavailableError  # noqa: E402
from modelobs.labelbox_labels import fetch_label, parse_webhook  # noqa: E402
from modelobs.labelbox_setup import SetupIds, ensure_setup  # noqa: E402
from modelobs.labelbox_signature import verify_signature  # noqa: E402
from modelobs.labelbox_submit import submit_for_review  # noqa: E402
from PIL import Image  # noqa: E402

from local.labelbox_emulator import EmulatorServer  # noqa: E402

SECRET = "webhook-secret-for-tests"
W, H = 64, 48


class Receiver(ThreadingHTTPServer):
    """A tiny webhook endpoint: records every delivery, answers ``status``."""

    daemon_threads = True

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.deliveries.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/labelbox"

    def for_key(self, global_key: str) -> list[tuple[dict[str, str], bytes]]:
        return [d for d in self.deliveries if json.loads(d[1]).get("data_row", {}).get("global_key") == global_key
                or json.loads(d[1]).get("dataRow", {}).get("globalKey") == global_key]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    srv = EmulatorServer(port=0).serve_in_thread()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    thread = threading.Thread(target=rx.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield rx
    rx.shutdown()
    rx.server_close()


@pytest.fixture(autouse=True)
def _no_fault_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").fault.set("ok")


@pytest.fixture(scope="module")
def client(emulator: EmulatorServer) -> Any:
    return connect("test-key", emulator.url)


@pytest.fixture(scope="module")
def ids(client: Any, receiver: Receiver) -> SetupIds:
    return ensure_setup(client, "modelobs-captures", "modelobs-review", receiver.url, SECRET)


def control(emulator: EmulatorServer, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{emulator.url}/_emulator/{path}", data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (W, H), (40, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


def key() -> str:
    return f"cap-{uuid.uuid4().hex[:12]}"


BOXES = [[1.25, 2.5, 30.75, 40.0], [10.0, 11.0, 20.5, 21.125]]


def submit(client: Any, ids: SetupIds, gk: str, boxes: list[list[float]] = BOXES) -> Any:
    return submit_for_review(client, ids, gk, png(), boxes, ["animal"] * len(boxes), W, H, "modelobs", content_type="image/png", priority=2)


def rows_for(emulator: EmulatorServer, gk: str) -> list[dict[str, Any]]:
    return [r for r in control(emulator, "state")["data_rows"] if r["globalKey"] == gk]


# --- setup ---------------------------------------------------------------------------------


def test_setup_is_idempotent(client: Any, emulator: EmulatorServer, receiver: Receiver) -> None:
    first = ensure_setup(client, "ds-idem", "proj-idem", receiver.url, SECRET)
    second = ensure_setup(client, "ds-idem", "proj-idem", receiver.url, SECRET)
    assert first == second
    state = control(emulator, "state")
    assert [d["id"] for d in state["datasets"] if d["name"] == "ds-idem"] == [first.dataset_id]
    assert [p["id"] for p in state["projects"] if p["name"] == "proj-idem"] == [first.project_id]
    project = next(p for p in state["projects"] if p["id"] == first.project_id)
    assert project["ontologyId"] == first.ontology_id
    ontology = next(o for o in state["ontologies"] if o["id"] == first.ontology_id)
    assert [(t["tool"], t["name"]) for t in ontology["normalized"]["tools"]] == [("rectangle", "animal")]
    hooks = [w for w in state["webhooks"] if w["projectId"] == first.project_id]
    assert [(w["id"], w["url"], sorted(w["topics"]), w["status"]) for w in hooks] == [
        (first.webhook_id, receiver.url, ["LABEL_CREATED", "LABEL_UPDATED"], "ACTIVE")
    ]
    assert first.tool_names == ("animal",)
    assert SetupIds.from_dict(json.loads(json.dumps(first.to_dict()))) == first


def test_setup_replaces_the_webhook_when_the_secret_rotates(client: Any, emulator: EmulatorServer, receiver: Receiver) -> None:
    first = ensure_setup(client, "ds-rot", "proj-rot", receiver.url, SECRET)
    second = ensure_setup(client, "ds-rot", "proj-rot", receiver.url, "rotated", replace_webhook=True)
    assert second.webhook_id != first.webhook_id and second.project_id == first.project_id
    status = {w["id"]: w["status"] for w in control(emulator, "state")["webhooks"]}
    assert (status[first.webhook_id], status[second.webhook_id]) == ("INACTIVE", "ACTIVE")


@pytest.mark.filterwarnings("ignore:Connecting default labeling editor")
def test_setup_will_not_rewire_a_project_without_the_box_tool(client: Any) -> None:
    from labelbox import MediaType
    from labelbox.schema.ontology import OntologyBuilder, Tool

    project = client.create_project(name="proj-foreign", media_type=MediaType.Image)
    foreign = client.create_ontology("foreign", OntologyBuilder(tools=[Tool(tool=Tool.Type.POLYGON, name="cat")]).asdict(), media_type=MediaType.Image)
    project.connect_ontology(foreign)
    with pytest.raises(LabelboxSetupError, match="without a bounding-box tool"):
        ensure_setup(client, "ds-foreign", "proj-foreign", "http://127.0.0.1:9/hook", SECRET)


def test_setup_refuses_a_secret_the_sdk_would_inline_unescaped(client: Any) -> None:
    with pytest.raises(ValueError, match="webhook_secret"):
        ensure_setup(client, "ds", "proj", "http://127.0.0.1:9/hook", 'bad"secret')


# --- submit --------------------------------------------------------------------------------


def test_submit_is_idempotent_per_global_key(client: Any, ids: SetupIds, emulator: EmulatorServer) -> None:
    gk = key()
    results = [submit(client, ids, gk) for _ in range(3)]
    assert [r.created for r in results] == [True, False, False]
    assert len({r.data_row_id for r in results}) == 1
    assert results[0].batch_id and results[1].batch_id is None  # the retry found it in the project
    rows = rows_for(emulator, gk)
    assert len(rows) == 1 and rows[0]["projectIds"] == [ids.project_id]
    assert (rows[0]["mediaAttributes"]["width"], rows[0]["mediaAttributes"]["height"]) == (W, H)
    state = control(emulator, "state")
    batches = [b for b in state["batches"] if rows[0]["id"] in b["dataRowIds"]]
    assert [(b["name"], b["priority"]) for b in batches] == [(f"modelobs-{gk}", 2)]
    prelabels = state["prelabels"][ids.project_id][rows[0]["id"]]
    assert len(prelabels) == len(BOXES)  # re-imports replaced, not duplicated


def test_prelabel_boxes_round_trip_exactly(client: Any, ids: SetupIds, emulator: EmulatorServer) -> None:
    gk = key()
    sub = submit(client, ids, gk)
    assert sub.prelabels == 2 and sub.import_name
    pre = control(emulator, "state")["prelabels"][ids.project_id][sub.data_row_id]
    assert sorted(labelbox_bbox_to_xyxy(p["bbox"]) for p in pre) == sorted(BOXES)
    assert {p["name"] for p in pre} == {"animal"}


def test_boxes_are_clipped_to_the_image_and_empty_ones_dropped(client: Any, ids: SetupIds, emulator: EmulatorServer) -> None:
    gk = key()
    sub = submit(client, ids, gk, boxes=[[-5.0, -5.0, 10.0, 10.0], [70.0, 50.0, 90.0, 60.0]])
    pre = control(emulator, "state")["prelabels"][ids.project_id][sub.data_row_id]
    assert [labelbox_bbox_to_xyxy(p["bbox"]) for p in pre] == [[0.0, 0.0, 10.0, 10.0]]


def test_a_capture_without_boxes_is_sent_without_prelabels(client: Any, ids: SetupIds, emulator: EmulatorServer) -> None:
    gk = key()
    sub = submit(client, ids, gk, boxes=[])
    assert (sub.prelabels, sub.import_name) == (0, None)
    assert rows_for(emulator, gk)[0]["projectIds"] == [ids.project_id]


def test_outage_raises_a_typed_error_and_creates_nothing(client: Any, ids: SetupIds, emulator: EmulatorServer) -> None:
    gk = key()
    control(emulator, "fault", {"mode": "reset"})
    with pytest.raises(LabelboxUnavailableError):
        submit(client, ids, gk)
    control(emulator, "fault", {"mode": "graphql_error"})
    with pytest.raises(LabelboxError):
        submit(client, ids, gk)
    control(emulator, "fault", {"mode": "ok"})
    assert rows_for(emulator, gk) == []


def test_failure_after_the_data_row_exists_then_retry_completes_once(client: Any, ids: SetupIds, emulator: EmulatorServer) -> None:
    gk = key()
    control(emulator, "fault", {"mode": "reset", "operation": "createMALPredictionImportByFilePyApi", "count": 1})
    with pytest.raises(LabelboxUnavailableError, match="pre-label"):
        submit(client, ids, gk)
    assert len(rows_for(emulator, gk)) == 1  # the data row and batch were made before the outage
    retry = submit(client, ids, gk)
    assert (retry.created, retry.prelabels) == (False, 2)
    rows = rows_for(emulator, gk)
    assert len(rows) == 1
    assert len(control(emulator, "state")["prelabels"][ids.project_id][rows[0]["id"]]) == 2


def test_a_transient_503_is_absorbed_by_the_sdks_own_retry(client: Any, ids: SetupIds, emulator: EmulatorServer) -> None:
    gk = key()
    control(emulator, "fault", {"mode": "down", "count": 1})
    assert submit(client, ids, gk).created
    assert control(emulator, "state")["fault"]["injected"] >= 1


def test_rejected_prelabels_raise(client: Any, ids: SetupIds) -> None:
    bad = SetupIds(ids.dataset_id, ids.project_id, ids.ontology_id, ids.webhook_id, tool_names=("not-a-tool",))
    with pytest.raises(LabelboxRejectedError, match="no tool named"):
        submit_for_review(client, bad, key(), png(), BOXES, ["x", "x"], W, H, "modelobs", content_type="image/png")


# --- review, webhook, fetch ------------------------------------------------------------------


def test_review_creates_the_label_and_delivers_a_signed_webhook(client: Any, ids: SetupIds, emulator: EmulatorServer, receiver: Receiver) -> None:
    gk = key()
    submit(client, ids, gk)
    assert fetch_label(client, ids.project_id, gk) is None  # not reviewed yet
    answer = control(emulator, "review", {"global_key": gk, "accept_prelabels": True})
    assert answer["event"] == "LABEL_CREATED"
    assert [(d["status"], d["error"]) for d in answer["deliveries"]] == [(200, None)]
    ((headers, body),) = receiver.for_key(gk)
    assert verify_signature(SECRET, body, headers).scheme == "sha256"
    assert verify_signature(SECRET, body, {"X-Hub-Signature": headers["X-Hub-Signature"]}).scheme == "sha1"
    assert headers["X-Labelbox-Event"] == "LABEL_CREATED" and headers["X-Labelbox-Id"] == answer["deliveries"][0]["delivery_id"]
    event = parse_webhook(body)
    assert (event.event, event.global_key, event.label_id) == ("LABEL_CREATED", gk, answer["label_id"])
    assert sorted(b["box"] for b in event.label.boxes) == sorted(BOXES)
    fetched = fetch_label(client, ids.project_id, gk)
    assert fetched == event.label
    assert fetched.reviewed_at and fetched.reviewed_by == "reviewer@modelobs.local"


def test_redelivery_keeps_the_delivery_id_and_the_bytes(client: Any, ids: SetupIds, emulator: EmulatorServer, receiver: Receiver) -> None:
    gk = key()
    submit(client, ids, gk)
    delivery_id = control(emulator, "review", {"global_key": gk})["deliveries"][0]["delivery_id"]
    again = control(emulator, "redeliver", {"delivery_id": delivery_id})
    assert (again["delivery_id"], again["status"]) == (delivery_id, 200)
    (h1, b1), (h2, b2) = receiver.for_key(gk)
    assert h1["X-Labelbox-Id"] == h2["X-Labelbox-Id"] == delivery_id
    assert b1 == b2 and h1["X-Hub-Signature-256"] == h2["X-Hub-Signature-256"]


def test_a_second_review_updates_the_label(client: Any, ids: SetupIds, emulator: EmulatorServer, receiver: Receiver) -> None:
    gk = key()
    submit(client, ids, gk)
    created = control(emulator, "review", {"global_key": gk})
    edited = [{"box": [5.0, 6.0, 25.5, 30.0], "label": "animal"}]
    updated = control(emulator, "review", {"global_key": gk, "boxes": edited})
    assert (created["event"], updated["event"]) == ("LABEL_CREATED", "LABEL_UPDATED")
    assert updated["label_id"] == created["label_id"]
    assert [h["X-Labelbox-Event"] for h, _ in receiver.for_key(gk)] == ["LABEL_CREATED", "LABEL_UPDATED"]
    label = fetch_label(client, ids.project_id, gk)
    assert label.boxes == edited and label.label_id == created["label_id"]


def test_v1_payload_names_the_label_and_the_fetch_supplies_it(client: Any, ids: SetupIds, emulator: EmulatorServer, receiver: Receiver) -> None:
    gk = key()
    submit(client, ids, gk)
    control(emulator, "review", {"global_key": gk, "payload_version": 1})
    ((headers, body),) = receiver.for_key(gk)
    assert verify_signature(SECRET, body, headers)
    event = parse_webhook(body)
    assert (event.payload_version, event.label, event.global_key, event.project_id) == (1, None, gk, ids.project_id)
    assert sorted(b["box"] for b in fetch_label(client, event.project_id, event.global_key).boxes) == sorted(BOXES)


def test_forged_or_stripped_deliveries_fail_verification(client: Any, ids: SetupIds, emulator: EmulatorServer, receiver: Receiver) -> None:
    gk = key()
    submit(client, ids, gk)
    control(emulator, "review", {"global_key": gk})
    ((headers, body),) = receiver.for_key(gk)
    assert "does not match" in verify_signature("guessed-secret", body, headers).reason
    assert "does not match" in verify_signature(SECRET, body.replace(b"animal", b"animals"), headers).reason
    stripped = {k: v for k, v in headers.items() if not k.startswith("X-Hub-Signature")}
    assert "missing signature" in verify_signature(SECRET, body, stripped).reason


def test_an_unreachable_receiver_is_reported_and_the_label_kept(client: Any, emulator: EmulatorServer) -> None:
    dead = ensure_setup(client, "ds-dead", "proj-dead", "http://127.0.0.1:9/webhooks/labelbox", SECRET)
    gk = key()
    submit(client, dead, gk)
    answer = control(emulator, "review", {"global_key": gk})
    assert answer["deliveries"][0]["status"] is None and answer["deliveries"][0]["error"]
    assert fetch_label(client, dead.project_id, gk).label_id == answer["label_id"]


# --- the emulator as an SDK endpoint ---------------------------------------------------------


def test_an_operation_the_emulator_lacks_is_named_in_the_error(client: Any) -> None:
    from lbox.exceptions import LabelboxError as SdkError

    with pytest.raises(SdkError, match="SomethingNewPyApi"):
        client.execute("query SomethingNewPyApi { somethingNew { id } }")


def test_an_api_key_can_be_required() -> None:
    from lbox.exceptions import AuthenticationError

    srv = EmulatorServer(port=0, api_key="right").serve_in_thread()
    try:
        assert connect("right", srv.url).get_user().email
        with pytest.raises(AuthenticationError):
            connect("wrong", srv.url).get_user()
    finally:
        srv.stop()


def test_review_without_waiting_delivers_in_the_background(client: Any, ids: SetupIds, emulator: EmulatorServer, receiver: Receiver) -> None:
    import time

    gk = key()
    submit(client, ids, gk)
    answer = control(emulator, "review", {"global_key": gk, "wait": False})
    delivery_id = answer["deliveries"][0]["delivery_id"]
    assert answer["deliveries"][0]["status"] == "pending"
    deadline = time.monotonic() + 10
    while not receiver.for_key(gk) and time.monotonic() < deadline:
        time.sleep(0.05)
    ((headers, _),) = receiver.for_key(gk)
    assert headers["X-Labelbox-Id"] == delivery_id


def test_sdk_lookups_the_functions_may_use(client: Any, ids: SetupIds) -> None:
    gk = key()
    sub = submit(client, ids, gk)
    assert client.get_data_row_by_global_key(gk).uid == sub.data_row_id
    assert [t.name for t in client.get_ontology(ids.ontology_id).tools()] == ["animal"]
    assert any(b.name == f"modelobs-{gk}" for b in client.get_project(ids.project_id).batches())


def test_concurrent_duplicate_events_make_one_data_row(client: Any, ids: SetupIds, emulator: EmulatorServer) -> None:
    """S3 can deliver the same event twice at once: both invocations succeed, Labelbox holds one row."""
    from concurrent.futures import ThreadPoolExecutor

    gk = key()
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: submit(connect("test-key", emulator.url), ids, gk), range(3)))
    assert len({r.data_row_id for r in results}) == 1
    assert sum(r.created for r in results) == 1  # the losers of the race report that they found it
    rows = rows_for(emulator, gk)
    assert len(rows) == 1 and rows[0]["projectIds"] == [ids.project_id]
    assert len(control(emulator, "state")["prelabels"][ids.project_id][rows[0]["id"]]) == len(BOXES)
