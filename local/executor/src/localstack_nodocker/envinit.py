"""The execution environment's init: plays LocalStack's Go ``init`` without a container.

Run by path (``python -I -S -u envinit.py``), stdlib only. It

1. starts the runtime (``bootstrap.py`` under the function's runtime interpreter) in its
   own session, and waits for it to import the handler (the *init* phase);
2. serves ``POST /invoke`` on 127.0.0.1 and reports ``ready`` (with its port) to LocalStack;
3. per invocation: hands the event to the runtime over a pipe, waits at most the
   function's timeout, kills the runtime's process group if it runs over, and posts
   logs (INIT_START/START/output/END/REPORT) and then the response or error to
   LocalStack's executor endpoint, as the Go init does;
4. after a timeout or a crash starts a fresh runtime (the next REPORT shows a new
   ``Init Duration``), and exits - killing the runtime - when told to stop or when
   LocalStack (its parent) goes away.

Wire formats follow ``localstack/lambda-runtime-init`` (cmd/localstack/custom_interop.go)
and the AWS runtimes' log lines.
"""

from __future__ import annotations

import json
import math
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENV = os.environ
ENDPOINT = ENV["LOCALSTACK_RUNTIME_ENDPOINT"]
RUNTIME_ID = ENV["LOCALSTACK_RUNTIME_ID"]
TIMEOUT_S = int(ENV.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
MEMORY_MB = ENV.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
VERSION = ENV.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
#: "python3.12" -> "python:3.12", as in AWS's INIT_START line.
RUNTIME_LABEL = ENV.get("NODOCKER_RUNTIME_NAME", "python").replace("python", "python:", 1)
MARKER_PREFIX = b"\x1e__nodocker_end__:"
LOG_SETTLE_S = 2.0
#: Variables for this init only; the function never sees them.
PRIVATE_PREFIXES = ("NODOCKER_", "LOCALSTACK_RUNTIME_")

# The Go init disables proxies for calls to LocalStack; so do we.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def diag(msg: str) -> None:
    """Diagnostics of the init itself (the executor's per-environment log file)."""
    print(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%S.%f}Z nodocker-init: {msg}", flush=True)


def post(path: str, body: bytes, retries: int = 3) -> None:
    request = urllib.request.Request(
        f"{ENDPOINT}{path}", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    for attempt in range(retries):
        try:
            with _opener.open(request, timeout=30) as resp:
                resp.read()
                return
        except Exception as e:  # LocalStack busy or restarting: retry briefly
            if attempt == retries - 1:
                diag(f"POST {path} failed: {e}")
            time.sleep(0.2 * (attempt + 1))


class Runtime:
    """One runtime process (one *init* of the function) and its output collector."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.init_duration_ms: float | None = None
        self.pending_init_report = True
        self.messages: queue.Queue[dict | None] = queue.Queue()
        self._buf = bytearray()
        self._buf_lock = threading.Condition()
        self._markers: set[str] = set()
        self._eof = False
        ctl_in_r, ctl_in_w = os.pipe()  # init -> runtime: invocations
        ctl_out_r, ctl_out_w = os.pipe()  # runtime -> init: ready / results
        out_r, out_w = os.pipe()  # runtime stdout+stderr -> log collector
        env = {k: v for k, v in ENV.items() if not k.startswith(PRIVATE_PREFIXES)}
        env["NODOCKER_CTL"] = f"{ctl_in_r},{ctl_out_w}"
        env["NODOCKER_MEMORY_LIMIT_MB"] = ENV.get("NODOCKER_MEMORY_LIMIT_MB", "0")
        cmd = [ENV["NODOCKER_RUNTIME_PYTHON"], "-I", "-S", "-u", ENV["NODOCKER_BOOTSTRAP"]]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ENV["LAMBDA_TASK_ROOT"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=(ctl_in_r, ctl_out_w),
            start_new_session=True,  # its own group: a timeout kills what the handler spawned
        )
        for fd in (ctl_in_r, ctl_out_w, out_w):
            os.close(fd)
        self.ctl_in = os.fdopen(ctl_in_w, "w", buffering=1)
        threading.Thread(target=self._read_ctl, args=(ctl_out_r,), daemon=True).start()
        threading.Thread(target=self._read_output, args=(out_r,), daemon=True).start()
        diag(f"runtime pid {self.proc.pid} started")

    # -- readers
    def _read_ctl(self, fd: int) -> None:
        with os.fdopen(fd, "r") as f:
            for line in f:
                try:
                    self.messages.put(json.loads(line))
                except ValueError:
                    diag(f"bad control line {line!r}")
        self.messages.put(None)  # EOF: the runtime is gone

    def _read_output(self, fd: int) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self._buf_lock:
                if not chunk:
                    self._eof = True
                    self._buf_lock.notify_all()
                    os.close(fd)
                    return
                self._buf += chunk
                self._buf_lock.notify_all()

    def take_output(self, marker: str | None, wait_s: float = LOG_SETTLE_S) -> str:
        """Everything the runtime wrote since the last call, up to ``marker`` (written by
        the runtime after its result, so that no output of this invocation is lost)."""
        token = MARKER_PREFIX + marker.encode() + b"\n" if marker else None
        deadline = time.monotonic() + wait_s
        with self._buf_lock:
            while token and token not in self._buf and not self._eof:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._buf_lock.wait(remaining)
            data = bytes(self._buf)
            if token and token in data:
                cut = data.index(token)
                out, rest = data[:cut], data[cut + len(token) :]
            else:
                out, rest = data, b""
            self._buf = bytearray(rest)
        return out.decode("utf-8", errors="replace")

    # -- control
    def wait_ready(self) -> dict | None:
        msg = self.messages.get()
        if msg is not None:
            self.init_duration_ms = (time.monotonic() - self.t0) * 1000
        return msg

    def max_rss_mb(self) -> int | None:
        """Peak resident memory of the runtime (VmHWM), for REPORT's Max Memory Used."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return math.ceil(int(line.split()[1]) / 1024)
        except OSError:
            pass
        return None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            diag(f"runtime pid {self.proc.pid} survived SIGKILL")

    def alive(self) -> bool:
        return self.proc.poll() is None


class Environment:
    """Serialises invocations to the current runtime and replaces it when it dies."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runtime = Runtime()
        self.ready_msg = self.runtime.wait_ready()
        self.stopping = False

    def _ensure_runtime(self) -> None:
        if self.runtime is None or not self.runtime.alive():
            if self.runtime is not None:
                self.runtime.kill()
            self.runtime = Runtime()
            self.ready_msg = self.runtime.wait_ready()

    def invoke(self, request: dict) -> None:
        with self.lock:
            try:
                self._invoke(request)
            except Exception as e:  # never leave LocalStack waiting for 15 minutes
                diag(f"invoke failed: {e!r}")
                req_id = request.get("invoke-id", "")
                err = {"errorType": "Runtime.Unknown", "errorMessage": f"nodocker init error: {e}"}
                post(f"/invocations/{req_id}/logs", json.dumps({"logs": ""}).encode())
                post(f"/invocations/{req_id}/error", json.dumps(err).encode())

    def _invoke(self, request: dict) -> None:
        req_id = request["invoke-id"]
        self._ensure_runtime()
        rt = self.runtime
        lines: list[str] = []
        cold = rt.pending_init_report
        init_output = rt.take_output(None, 0) if cold else ""
        if cold:
            lines.append(f"INIT_START Runtime Version: {RUNTIME_LABEL}.local\tRuntime Version ARN: local")
        rt.pending_init_report = False
        lines.append(init_output)
        lines.append(f"START RequestId: {req_id} Version: {VERSION}\n")
        start = time.monotonic()
        deadline_ms = int(time.time() * 1000) + TIMEOUT_S * 1000
        status = ""
        error_type = ""
        result: dict | None = None

        if self.ready_msg is None:  # the runtime died during init
            result = {"ok": False, "error": runtime_exit_error(req_id, rt.proc.wait())}
            status, error_type = "error", "Runtime.ExitError"
        elif self.ready_msg.get("fault"):  # the handler could not be loaded
            result = {"ok": False, "error": dict(self.ready_msg["fault"])}
            status, error_type = "error", result["error"].get("errorType", "")
        else:
            msg = {
                "request_id": req_id,
                "invoked_function_arn": request.get("invoked-function-arn", ""),
                "payload": request.get("payload", ""),
                "trace_id": request.get("trace-id", ""),
                "deadline_ms": deadline_ms,
            }
            try:
                rt.ctl_in.write(json.dumps(msg) + "\n")
            except OSError:
                pass
            remaining = TIMEOUT_S - (time.monotonic() - start)
            try:
                result = rt.messages.get(timeout=max(remaining, 0))
            except queue.Empty:
                result = None
                status = "timeout"
            if status != "timeout" and result is None:
                code = rt.proc.wait()
                result = {"ok": False, "error": runtime_exit_error(req_id, code)}
                status, error_type = "error", "Runtime.ExitError"
        duration_ms = min((time.monotonic() - start) * 1000, TIMEOUT_S * 1000.0)
        max_rss = rt.max_rss_mb()

        if status == "timeout":
            rt.kill()
            lines.append(rt.take_output(None, 0.2))
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            # The log line as AWS writes it; the error as AWS returns it today.
            lines.append(f"{now} {req_id} Task timed out after {TIMEOUT_S}.00 seconds\n")
            message = f"RequestId: {req_id} Error: Task timed out after {TIMEOUT_S}.00 seconds"
            result = {"ok": False, "error": {"errorType": "Sandbox.Timedout", "errorMessage": message}}
        elif status == "error" and self.ready_msg is not None and not self.ready_msg.get("fault"):
            lines.append(rt.take_output(None, 0.2))  # crashed mid-invoke
        else:
            lines.append(rt.take_output(req_id))
            if result and result.get("max_rss_mb"):
                max_rss = result["max_rss_mb"]

        lines.append(f"END RequestId: {req_id}\n")
        report = (
            f"REPORT RequestId: {req_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration_ms):.0f} ms\tMemory Size: {MEMORY_MB} MB\t"
            f"Max Memory Used: {max_rss or MEMORY_MB} MB\t"
        )
        if cold and rt.init_duration_ms is not None:
            report += f"Init Duration: {rt.init_duration_ms:.2f} ms\t"
        if status:
            report += f"Status: {status}" + (f"\tError Type: {error_type}" if error_type and status == "error" else "")
        lines.append(report + "\n")
        logs = "".join(s if s.endswith("\n") or not s else s + "\n" for s in lines)

        post(f"/invocations/{req_id}/logs", json.dumps({"logs": logs}).encode())
        if result and result.get("ok"):
            post(f"/invocations/{req_id}/response", result.get("body", "null").encode())
        else:
            post(f"/invocations/{req_id}/error", json.dumps((result or {}).get("error") or {}).encode())

        if status == "timeout" or not rt.alive():
            # AWS resets the sandbox; start the next init now so the next invoke waits less.
            rt.kill()
            threading.Thread(target=self._reinit, daemon=True).start()

    def _reinit(self) -> None:
        with self.lock:
            if not self.stopping:
                self._ensure_runtime()

    def shutdown(self) -> None:
        self.stopping = True
        if self.runtime is not None:
            self.runtime.kill()


def runtime_exit_error(req_id: str, code: int | None) -> dict:
    """The error AWS returns when the runtime process dies during an invocation."""
    if code is not None and code < 0:
        how = f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}"
        how = {"signal: kill": "signal: killed"}.get(how, how)
    else:
        how = f"exit status {code}"
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {req_id} Error: Runtime exited with error: {how}",
    }


ENVIRONMENT: Environment | None = None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/invoke":
            self.send_response(404)
            self.end_headers()
            return
        try:
            request = json.loads(body)
        except ValueError:
            self.send_response(400)
            self.end_headers()
            return
        # Answer first, as the Go init does; the result goes back on the executor endpoint.
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")
        assert ENVIRONMENT is not None
        threading.Thread(target=ENVIRONMENT.invoke, args=(request,), daemon=True).start()

    def log_message(self, format: str, *args) -> None:  # quiet
        pass


def watch_parent(parent: int) -> None:
    """Exit (taking the runtime along) if LocalStack dies without stopping us."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            diag("parent gone; exiting")
            terminate()


def terminate(*_args) -> None:
    if ENVIRONMENT is not None:
        ENVIRONMENT.shutdown()
    os._exit(0)


def main() -> None:
    global ENVIRONMENT
    parent = int(ENV.get("NODOCKER_PARENT_PID") or os.getppid())
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ENVIRONMENT = Environment()
    diag(f"runtime ready in {ENVIRONMENT.runtime.init_duration_ms or 0:.1f} ms; serving on port {server.server_port}")
    post(f"/status/{RUNTIME_ID}/ready", json.dumps({"port": server.server_port}).encode())
    server.serve_forever()


if __name__ == "__main__":
    main()
