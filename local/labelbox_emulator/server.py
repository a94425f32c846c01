"""HTTP front of the emulator: Labelbox's endpoints for the SDK, and a control API for tests and the demo.

SDK-facing (what ``labelbox.Client(endpoint=<base>/graphql, rest_endpoint=<base>/api/v1)`` derives):

- ``POST /graphql`` and ``POST /_gql`` (the SDK's "experimental" endpoint, used by
  ``createBatchV2`` and ``project.batches()``): JSON ``{query, variables}`` or a
  GraphQL multipart request (``operations`` + ``map`` + file parts: ``uploadFile``,
  MAL imports).
- ``GET|HEAD /_files/<id>/<name>[?start=N]``: uploaded images, manifests, import
  status files and export files (``start`` serves the export from a byte offset).
- ``/api/v1/...`` (REST): not used by the review loop; answers 404 naming the path.

Control (plain JSON, not part of Labelbox):

- ``GET /_emulator/health``; ``GET /_emulator/state`` (everything but secrets and blobs).
- ``POST /_emulator/review`` ``{global_key, accept_prelabels: true | boxes: [{box|bbox, label}],
  project_id?, reviewer?, payload_version?: 1|2, deliver?: true, wait?: true}``: creates or
  updates the label, delivers the webhooks, answers with the label and each delivery's
  receiver status (``wait: false``: answers at once, attempts appear in the state).
- ``POST /_emulator/redeliver`` ``{delivery_id}``: the same body and ``X-Labelbox-Id`` again.
- ``POST /_emulator/fault`` ``{mode, count?, after?, operation?}``: ``down`` (HTTP 503) and
  ``error`` (HTTP 500), which the SDK retries for up to ~2 minutes; ``graphql_error`` (a
  GraphQL error it does not retry); ``reset`` (connection closed without an answer: the
  SDK raises at once); ``ok``. ``count`` ends it after N injections, ``after`` lets N
  matching requests through first, ``operation`` limits it to one GraphQL operation.
- ``POST /_emulator/reset``: forget everything (tests sharing one server).

Loopback only by default; a wrong ``Authorization`` is refused when started with an API key.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import logging
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping

from . import reviewer, webhooks
from .api import Api, FileUpload
from .graphql import GraphQLFault, execute, parse
from .store import Store

log = logging.getLogger("labelbox_emulator")

FAULT_MODES = ("ok", "down", "error", "graphql_error", "reset")


class Fault:
    """What the next SDK requests get instead of an answer (thread-safe countdown).

    ``operation`` restricts the fault to GraphQL requests of that operation
    (e.g. ``createMALPredictionImportByFilePyApi``, to fail a submission after
    its data row exists); ``after`` lets that many matching requests through
    first; ``count`` ends the fault after that many injections.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mode = "ok"
        self.remaining: int | None = None
        self.after = 0
        self.operation: str | None = None
        self.injected = 0

    def set(self, mode: str, count: int | None = None, after: int = 0, operation: str | None = None) -> dict[str, Any]:
        if mode not in FAULT_MODES:
            raise reviewer.ControlError(400, f"mode must be one of {FAULT_MODES}")
        with self.lock:
            self.mode, self.remaining = mode, (None if mode == "ok" else count)
            self.after, self.operation = int(after or 0), operation
            return self.describe()

    def take(self, operation: str | None) -> str:
        with self.lock:
            if self.mode == "ok" or (self.operation and operation != self.operation):
                return "ok"
            if self.after > 0:
                self.after -= 1
                return "ok"
            mode = self.mode
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.mode, self.remaining, self.operation = "ok", None, None
            self.injected += 1
            return mode

    def describe(self) -> dict[str, Any]:
        return {"mode": self.mode, "remaining": self.remaining, "after": self.after, "operation": self.operation, "injected": self.injected}


class EmulatorServer(ThreadingHTTPServer):
    """The threaded HTTP server holding the store; ``serve_in_thread()`` for tests."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: str | None = None,
        api_key: str | None = None,
        webhook_payload_version: int = 2,
        webhook_timeout: float = 30.0,
    ) -> None:
        super().__init__((host, port), Handler)
        self.store = Store(state_dir)
        self.fault = Fault()
        self.api_key = api_key
        self.webhook_payload_version = webhook_payload_version
        self.webhook_timeout = webhook_timeout
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serve_in_thread(self) -> "EmulatorServer":
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, name="labelbox-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)


class Handler(BaseHTTPRequestHandler):
    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each keep-alive answer
    # waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    # --- plumbing ----------------------------------------------------------------------

    def log_message(self, fmt: str, *args: Any) -> None:  # route http.server's access log to logging
        log.debug("%s " + fmt, self.address_string(), *args)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any = None, *, raw: bytes | None = None, content_type: str = "application/json") -> None:
        data = raw if raw is not None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _inject_fault(self, operation: str | None = None) -> bool:
        """Answer with the configured fault instead of serving; True when a fault was sent."""
        mode = self.server.fault.take(operation)
        if mode == "ok":
            return False
        log.info("fault %s injected for %s %s", mode, self.command, self.path)
        if mode == "reset":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return True
        if mode == "down":
            self._send(503, raw=b"upstream connect error or disconnect/reset before headers. reset reason: connection failure", content_type="text/plain")
        elif mode == "error":
            self._send(500, raw=b"Internal Server Error", content_type="text/plain")
        else:
            self._send(200, {"data": None, "errors": [GraphQLFault("Service temporarily unavailable (emulated fault)").to_error()]})
        return True

    # --- routing -----------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        path = urllib.parse.urlparse(self.path).path
        if path.startswith("/_emulator/"):
            self._control("GET", path, b"")
        elif path.startswith("/_files/"):
            if not self._inject_fault():
                self._file(path)
        elif path.startswith("/api/v1"):
            if not self._inject_fault():
                self._send(404, {"message": f"labelbox emulator: REST {self.command} {path} is not emulated"})
        else:
            self._send(404, {"message": f"labelbox emulator: no route for GET {path}"})

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        path = urllib.parse.urlparse(self.path).path
        body = self._body()
        if path.startswith("/_emulator/"):
            self._control("POST", path, body)
        elif path in ("/graphql", "/_gql"):
            self._graphql(body)
        elif path.startswith("/api/v1"):
            if not self._inject_fault():
                self._send(404, {"message": f"labelbox emulator: REST POST {path} is not emulated"})
        else:
            self._send(404, {"message": f"labelbox emulator: no route for POST {path}"})

    do_PUT = do_POST
    do_DELETE = do_POST
    do_PATCH = do_POST

    # --- files -------------------------------------------------------------------------

    def _file(self, path: str) -> None:
        parts = path.split("/")
        got = self.server.store.get_blob(parts[2]) if len(parts) >= 3 else None
        if got is None:
            self._send(404, {"message": f"no file at {path}"})
            return
        meta, blob = got
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        start = int(query.get("start", ["0"])[0])
        self._send(200, raw=blob[start:], content_type=meta["contentType"])

    # --- GraphQL -----------------------------------------------------------------------

    def _graphql(self, body: bytes) -> None:
        started = time.monotonic()
        op_name = "?"
        parse_error: GraphQLFault | None = None
        try:
            request = self._graphql_request(body)
            op = parse(request["query"], request.get("operationName"))
            op_name = op.name or f"anonymous {op.kind}"
        except GraphQLFault as fault:
            request, op = {}, None
            parse_error = fault
        except (ValueError, KeyError) as exc:
            request, op = {}, None
            parse_error = GraphQLFault(f"malformed GraphQL request: {type(exc).__name__}: {exc}", "GRAPHQL_PARSE_FAILED")
        if self._inject_fault(op_name):
            return
        if self.server.api_key is not None and self.headers.get("Authorization", "") != f"Bearer {self.server.api_key}":
            self._send(401, {"errors": [{"message": "Invalid API key", "extensions": {"code": "AUTHENTICATION_ERROR"}}]})
            return
        try:
            if op is None:
                raise parse_error or GraphQLFault("no operation", "GRAPHQL_PARSE_FAILED")
            store = self.server.store
            with store.lock:
                store.count_op(op_name)
                api = Api(store, self.server.url)
                data = execute(op, request.get("variables") or {}, api.roots())
                if op.kind == "mutation":
                    store.save()
            answer: dict[str, Any] = {"data": data}
        except GraphQLFault as fault:
            level = logging.WARNING if fault.code == "NOT_EMULATED" else logging.INFO
            log.log(level, "%s: %s", op_name, fault.message)
            answer = {"data": None, "errors": [fault.to_error()]}
        except (ValueError, KeyError, TypeError) as exc:
            log.exception("%s failed", op_name)
            answer = {"data": None, "errors": [GraphQLFault(f"{op_name}: {type(exc).__name__}: {exc}", status=400).to_error()]}
        log.info("%s %s %.1f ms", self.path, op_name, (time.monotonic() - started) * 1000)
        self._send(200, answer)

    def _graphql_request(self, body: bytes) -> dict[str, Any]:
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return json.loads(body or b"{}")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body
        )
        fields: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            fields[name] = FileUpload(filename or name, part.get_content_type(), payload) if filename else payload
        def text(value: Any) -> str:
            return value.content.decode("utf-8") if isinstance(value, FileUpload) else value.decode("utf-8")
        request = json.loads(text(fields["operations"]))
        mapping = json.loads(text(fields["map"]))
        for part_name, paths in mapping.items():
            upload = fields.get(part_name)
            if not isinstance(upload, FileUpload):
                upload = FileUpload(part_name, None, upload or b"")
            for dotted in paths:
                target: Any = request
                keys = dotted.split(".")
                for key in keys[:-1]:
                    target = target[int(key)] if isinstance(target, list) else target[key]
                target[keys[-1]] = upload
        return request

    # --- control -----------------------------------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> None:
        try:
            req = json.loads(body) if body else {}
            status, answer = self._control_route(method, path, req)
        except reviewer.ControlError as err:
            status, answer = err.status, {"error": err.message}
        except (ValueError, KeyError, TypeError) as exc:
            status, answer = 400, {"error": f"{type(exc).__name__}: {exc}"}
        self._send(status, answer)

    def _control_route(self, method: str, path: str, req: Mapping[str, Any]) -> tuple[int, Any]:
        store, srv = self.server.store, self.server
        name = path[len("/_emulator/") :]
        if (method, name) == ("GET", "health"):
            return 200, {"ok": True, "url": srv.url}
        if (method, name) == ("GET", "state"):
            with store.lock:
                return 200, state_view(store, srv)
        if (method, name) == ("POST", "review"):
            with store.lock:
                answer, deliveries = reviewer.review(Api(store, srv.url), req, srv.webhook_payload_version)
                store.save()
            if req.get("wait", True):
                answer["deliveries"] = [self._deliver(d) for d in deliveries]
            else:  # fire and forget: the demo reviews many captures; attempts land in the state
                threading.Thread(target=lambda: [self._deliver(d) for d in deliveries], daemon=True).start()
                answer["deliveries"] = [{"delivery_id": d["id"], "url": d["url"], "event": d["event"], "status": "pending"} for d in deliveries]
            return 200, answer
        if (method, name) == ("POST", "redeliver"):
            with store.lock:
                delivery = store.data["deliveries"].get(req.get("delivery_id", ""))
            if delivery is None:
                raise reviewer.ControlError(404, f"no delivery {req.get('delivery_id')!r}")
            return 200, self._deliver(delivery)
        if (method, name) == ("POST", "fault"):
            count = req.get("count")
            return 200, srv.fault.set(
                req.get("mode", "ok"), int(count) if count is not None else None, int(req.get("after") or 0), req.get("operation")
            )
        if (method, name) == ("POST", "reset"):
            store.reset()
            srv.fault.set("ok")
            return 200, {"ok": True}
        raise reviewer.ControlError(404, f"no control route {method} /_emulator/{name}")

    def _deliver(self, delivery: dict[str, Any]) -> dict[str, Any]:
        """Send one delivery (outside the store lock) and record the attempt."""
        store = self.server.store
        with store.lock:
            hook = store.data["webhooks"].get(delivery["webhookId"])
            secret = hook["secret"] if hook else ""
        attempt = webhooks.send(delivery, secret, self.server.webhook_timeout)
        with store.lock:
            attempt["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            delivery["attempts"].append(attempt)
            store.save()
        log.info("delivery %s %s -> %s %s", delivery["id"], delivery["event"], delivery["url"], attempt["status"] or attempt["error"])
        return {"delivery_id": delivery["id"], "url": delivery["url"], "event": delivery["event"], **attempt}


def state_view(store: Store, srv: EmulatorServer) -> dict[str, Any]:
    """What tests and the demo inspect: the objects by kind, without secrets or blobs."""
    d = store.data
    return {
        "datasets": list(d["datasets"].values()),
        "projects": list(d["projects"].values()),
        "ontologies": list(d["ontologies"].values()),
        "data_rows": [
            {**dr, "projectIds": sorted({b["projectId"] for b in d["batches"].values() if dr["id"] in b["dataRowIds"]})}
            for dr in d["data_rows"].values()
        ],
        "batches": list(d["batches"].values()),
        "prelabels": {pid: {dr: list(anns.values()) for dr, anns in rows.items()} for pid, rows in d["prelabels"].items()},
        "labels": list(d["labels"].values()),
        "imports": list(d["imports"].values()),
        "webhooks": [{k: v for k, v in w.items() if k != "secret"} for w in d["webhooks"].values()],
        "deliveries": list(d["deliveries"].values()),
        "operations": dict(store.ops),
        "fault": srv.fault.describe(),
    }


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
