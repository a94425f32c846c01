"""The collector's HTTP server: Observe's ingest endpoint plus an admin API for tests and the demo.

Ingest (what the forwarder talks to), as Observe documents ``/v1/http``:

    POST /v1/http/<path>[?k=v]   Authorization: Bearer <token>
                                 Content-Type: application/x-ndjson | application/json
                                 Content-Encoding: gzip (optional)
        200 {"ok": true, "count": n}
        401 wrong or missing token      400 malformed body (says which line)
        411 no Content-Length           413 over a size limit
        415 other content types         503 (or any status) while a fault is set

Admin (no token; the server binds to 127.0.0.1 only):

    GET  /_collector/health
    GET  /_collector/observations?path=modelobs/evaluations&since=0&limit=1000
    GET  /_collector/count?path=...          {"count", "distinct_ids", "duplicates"}
    GET  /_collector/requests?limit=100      recent ingest requests and their statuses
    POST /_collector/fault {"mode": "down", "status": 503, "count": 2, "retry_after": 1}
         {"mode": "slow", "delay": 2.0, "count": 1}   answer late (to provoke client timeouts)
         {"mode": "ok"}                                 clear the fault
    POST /_collector/reset                   forget observations, requests and faults
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import zlib
from collections import deque
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from .store import ObservationStore, normalize_path

MB = 1024 * 1024
INGEST_PREFIX = "/v1/http/"
ADMIN_PREFIX = "/_collector/"


@dataclass(frozen=True)
class Limits:
    """Observe's documented limits: 10 MB compressed and 50 MB decompressed per request, 4 MB per observation."""

    max_request_bytes: int = 10 * MB
    max_decompressed_bytes: int = 50 * MB
    max_observation_bytes: int = 4 * MB


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Fault:
    """An outage to simulate on the next ``count`` ingest requests (all of them if count is None)."""

    mode: str = "ok"  # ok | down | slow
    status: int = 503
    count: Optional[int] = None
    retry_after: Optional[float] = None
    delay: float = 0.0


class FaultState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault = Fault()

    def set(self, doc: dict[str, Any]) -> Fault:
        mode = doc.get("mode", "down")
        if mode not in ("ok", "down", "slow"):
            raise BadRequest(400, "mode must be ok, down or slow")
        status = int(doc.get("status", 503))
        if not 400 <= status <= 599:
            raise BadRequest(400, "status must be an HTTP error status (400-599)")
        count = doc.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise BadRequest(400, "count must be a positive integer (or absent: until cleared)")
        retry_after = doc.get("retry_after")
        delay = float(doc.get("delay", 0.0))
        fault = Fault(mode, status, count, None if retry_after is None else float(retry_after), delay)
        with self._lock:
            self._fault = fault if mode != "ok" else Fault()
            return self._fault

    def take(self) -> Optional[Fault]:
        """The fault for this request, if one is active; counts it down."""
        with self._lock:
            fault = self._fault
            if fault.mode == "ok":
                return None
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._fault = Fault()
            return Fault(fault.mode, fault.status, fault.count, fault.retry_after, fault.delay)

    def current(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self._fault)

    def clear(self) -> None:
        with self._lock:
            self._fault = Fault()


class CollectorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Optional[Path] = None,
        fresh: bool = False,
        limits: Limits = Limits(),
        quiet: bool = True,
    ) -> None:
        if not token:
            raise ValueError("the collector needs a token to check")
        self.token = token
        self.store = ObservationStore(state_dir, load=not fresh)
        self.limits = limits
        self.faults = FaultState()
        self.requests: deque[dict[str, Any]] = deque(maxlen=1000)
        self.quiet = quiet
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        """Stop serving and release the port (for tests and the runner's signal handler)."""
        self.shutdown()
        self.server_close()


def serve_in_thread(token: str, **kwargs: Any) -> CollectorServer:
    """Start a collector on a free port in a daemon thread; call ``.close()`` when done."""
    server = CollectorServer(token, **kwargs)
    # A short poll interval makes close() (shutdown) return in ~50 ms instead of 0.5 s.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="observe-collector", daemon=True
    )
    thread.start()
    return server


class Handler(BaseHTTPRequestHandler):
    server: CollectorServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the real endpoint and urllib3's pool expect
    server_version = "observe-collector/1"

    # --- plumbing -------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # The request line carries no token (it is in a header), so logging it is safe.
        if not self.server.quiet:
            super().log_message(format, *args)

    def _reply(self, status: int, doc: Any, headers: Optional[dict[str, str]] = None) -> None:
        body = (json.dumps(doc) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: Optional[dict[str, str]] = None) -> None:
        self._reply(status, {"ok": False, "message": message}, headers)

    def _read_body(self, limit: int) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise BadRequest(411, "send a Content-Length; chunked bodies are not accepted")
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            self.close_connection = True
            raise BadRequest(411, "Content-Length is required")
        try:
            length = int(length_header)
        except ValueError:
            self.close_connection = True
            raise BadRequest(400, "Content-Length is not a number") from None
        if length > limit:
            # The body stays unread, so this connection cannot carry another request.
            self.close_connection = True
            raise BadRequest(413, f"request body is {length} bytes; the limit is {limit}")
        return self.rfile.read(length)

    # --- routing --------------------------------------------------------------------

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        url = urlsplit(self.path)
        try:
            if url.path.startswith(INGEST_PREFIX):
                self._ingest(url.path[len(INGEST_PREFIX):], url.query)
            elif url.path == ADMIN_PREFIX + "fault":
                doc = self._admin_json()
                self._reply(200, {"ok": True, "fault": asdict(self.server.faults.set(doc))})
            elif url.path == ADMIN_PREFIX + "reset":
                self._read_body(1 * MB)
                self.server.store.reset()
                self.server.requests.clear()
                self.server.faults.clear()
                self._reply(200, {"ok": True})
            else:
                self._read_body(self.server.limits.max_request_bytes)
                self._error(404, f"no such endpoint: POST {url.path}")
        except BadRequest as exc:
            self._error(exc.status, exc.message)

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == ADMIN_PREFIX + "health":
                self._reply(200, {"ok": True, "observations": self.server.store.count()["count"], "fault": self.server.faults.current()})
            elif url.path == ADMIN_PREFIX + "observations":
                items = self.server.store.query(
                    query.get("path"), since=_int(query, "since", 0), limit=_int(query, "limit", None)
                )
                self._reply(200, {"count": len(items), "observations": items})
            elif url.path == ADMIN_PREFIX + "count":
                self._reply(200, self.server.store.count(query.get("path")))
            elif url.path == ADMIN_PREFIX + "requests":
                limit = _int(query, "limit", 100) or 100
                self._reply(200, {"requests": list(self.server.requests)[-limit:]})
            else:
                self._error(404, f"no such endpoint: GET {url.path}")
        except BadRequest as exc:
            self._error(exc.status, exc.message)

    def _admin_json(self) -> dict[str, Any]:
        raw = self._read_body(1 * MB)
        try:
            doc = json.loads(raw or b"{}")
        except ValueError:
            raise BadRequest(400, "the admin body must be a JSON object") from None
        if not isinstance(doc, dict):
            raise BadRequest(400, "the admin body must be a JSON object")
        return doc

    # --- ingest ---------------------------------------------------------------------

    def _ingest(self, path: str, query: str) -> None:
        entry: dict[str, Any] = {"at": time.time(), "path": normalize_path(path), "status": None, "records": 0}
        self.server.requests.append(entry)
        try:
            status, doc, headers = self._ingest_inner(path, query, entry)
        except BadRequest as exc:
            status, doc, headers = exc.status, {"ok": False, "message": exc.message}, {}
        entry["status"] = status
        self._reply(status, doc, headers)

    def _ingest_inner(self, path: str, query: str, entry: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        limits = self.server.limits
        body = self._read_body(limits.max_request_bytes)
        fault = self.server.faults.take()
        if fault is not None:
            entry["fault"] = fault.mode
            if fault.delay:
                time.sleep(fault.delay)
            if fault.mode == "down":
                headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
                return fault.status, {"ok": False, "message": "simulated outage"}, headers
        if not path.strip("/"):
            raise BadRequest(404, "POST to /v1/http/<path>; the path names the data")
        if not self._authorized():
            entry["auth"] = "rejected"
            return 401, {"ok": False, "message": "missing or invalid bearer token"}, {}
        raw = self._decompress(body, self.headers.get("Content-Encoding", ""))
        objects = parse_body(raw, self.headers.get("Content-Type", ""), limits.max_observation_bytes)
        extra = {k: v[-1] for k, v in parse_qs(query).items()}
        n = self.server.store.add(path, extra, objects)
        entry["records"] = n
        return 200, {"ok": True, "count": n}, {}

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return False
        return hmac.compare_digest(presented.strip().encode(), self.server.token.encode())

    def _decompress(self, body: bytes, encoding: str) -> bytes:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            raw = body
        elif encoding == "gzip":
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                raw = inflater.decompress(body, self.server.limits.max_decompressed_bytes)
            except zlib.error as exc:
                raise BadRequest(400, f"Content-Encoding is gzip but the body is not: {exc}") from None
            if inflater.unconsumed_tail:
                raise BadRequest(
                    413, f"body decompresses to more than {self.server.limits.max_decompressed_bytes} bytes"
                )
            if not inflater.eof:
                raise BadRequest(400, "truncated gzip body")
            return raw
        else:
            raise BadRequest(415, f"Content-Encoding {encoding!r} is not supported; use gzip or none")
        if len(raw) > self.server.limits.max_decompressed_bytes:
            raise BadRequest(413, f"body is over {self.server.limits.max_decompressed_bytes} bytes")
        return raw


def parse_body(raw: bytes, content_type: str, max_observation: int) -> list[Any]:
    """NDJSON (one JSON object per line) or JSON (an object, or an array of them)."""
    media = content_type.split(";")[0].strip().lower()
    if media in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        objects = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            if len(line) > max_observation:
                raise BadRequest(413, f"line {number} is {len(line)} bytes; an observation may be {max_observation}")
            doc = _json(line, f"line {number}")
            if not isinstance(doc, dict):
                raise BadRequest(400, f"line {number} must be a JSON object")
            objects.append(doc)
        if not objects:
            raise BadRequest(400, "the body holds no observations")
        return objects
    if media == "application/json":
        doc = _json(raw, "the body")
        items = doc if isinstance(doc, list) else [doc]
        for i, item in enumerate(items):
            if len(json.dumps(item).encode()) > max_observation:
                raise BadRequest(413, f"item {i} is over the {max_observation}-byte observation limit")
        return items
    raise BadRequest(415, f"Content-Type {media or '(none)'!r} is not supported; use application/x-ndjson")


def _json(raw: bytes, where: str) -> Any:
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(400, f"{where} is not JSON: {exc}") from None
    if not isinstance(doc, (dict, list)) or (isinstance(doc, list) and not all(isinstance(d, dict) for d in doc)):
        raise BadRequest(400, f"{where} must be a JSON object")
    return doc


def _int(query: dict[str, str], name: str, default: Optional[int]) -> Optional[int]:
    if name not in query:
        return default
    try:
        value = int(query[name])
    except ValueError:
        raise BadRequest(400, f"{name} must be a whole number") from None
    if value < 0:
        raise BadRequest(400, f"{name} must not be negative")
    return value
