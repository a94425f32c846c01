"""Run the collector in the foreground, or start/stop it in the background with a pid file.

``start`` launches ``python -m observe_collector serve`` in its own session,
records its pid (and port) in ``<state dir>/collector.pid.json`` and waits
until it answers ``/_collector/health``. ``stop`` signals exactly that pid,
after checking the pid still belongs to a collector (a stale file must not
make us kill an unrelated process that reused the number). Nothing is left
running: the server has no children.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from .server import CollectorServer, Limits

PID_FILE = "collector.pid.json"
LOG_FILE = "collector.log"
TOKEN_ENV = "OBSERVE_COLLECTOR_TOKEN"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
PACKAGE_PARENT = Path(__file__).resolve().parent.parent  # local/, so `-m observe_collector` imports


def serve(token: str, host: str, port: int, state_dir: Path, fresh: bool, limits: Limits, quiet: bool) -> int:
    """Serve until SIGTERM/SIGINT; then close the socket and return 0."""
    server = CollectorServer(token, host=host, port=port, state_dir=state_dir, fresh=fresh, limits=limits, quiet=quiet)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="observe-collector", daemon=True
    )
    thread.start()
    print(f"observe collector listening on {server.url} (state in {state_dir})", flush=True)
    stop.wait()
    server.close()
    thread.join(timeout=5)
    print("observe collector stopped", flush=True)
    return 0


def health(url: str, timeout: float = 1.0) -> Optional[dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{url}/_collector/health", timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _alive_collector(pid: int) -> bool:
    """True if ``pid`` runs and (where /proc tells us) is an observe_collector process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: certainly not the one we started
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            return False
        # Exactly what start() runs: `python -m observe_collector serve ...`. A substring test
        # would match any process whose arguments merely mention the name (a test file, an editor).
        return any(argv[i : i + 3] == [b"-m", b"observe_collector", b"serve"] for i in range(len(argv)))
    return True


def _read_pid(state_dir: Path) -> Optional[dict[str, Any]]:
    try:
        return json.loads((state_dir / PID_FILE).read_text())
    except (OSError, ValueError):
        return None


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def start(token: str, host: str, port: int, state_dir: Path, fresh: bool) -> int:
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    info = _read_pid(state_dir)
    if info and _alive_collector(int(info["pid"])):
        if info.get("url") == url and health(url):
            print(f"observe collector already running (pid {info['pid']}, {url})")
            return 0
        print(f"a collector from {state_dir} runs as pid {info['pid']} at {info.get('url')}; run stop first", file=sys.stderr)
        return 1
    (state_dir / PID_FILE).unlink(missing_ok=True)
    if not _port_free(host, port):
        print(f"port {port} on {host} is in use by another process; pick another with --port", file=sys.stderr)
        return 1
    cmd = [sys.executable, "-m", "observe_collector", "serve", "--host", host, "--port", str(port), "--state-dir", str(state_dir)]
    if fresh:
        cmd.append("--fresh")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p)
    env[TOKEN_ENV] = token  # not on the command line, where `ps` would show it
    with (state_dir / LOG_FILE).open("ab") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    (state_dir / PID_FILE).write_text(json.dumps({"pid": proc.pid, "url": url, "port": port, "started_at": time.time()}))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if health(url, timeout=0.5):
            print(f"observe collector up: {url} (pid {proc.pid}, log {state_dir / LOG_FILE})")
            return 0
        time.sleep(0.1)
    _terminate(proc.pid)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    tail = (state_dir / LOG_FILE).read_text(errors="replace").splitlines()[-10:]
    print("observe collector did not come up:\n  " + "\n  ".join(tail), file=sys.stderr)
    return 1


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            # Reap it if it is our child (start's failure path); elsewhere it is not, and waitpid raises.
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().split(")")[-1].split()[0] != "Z"  # a zombie has exited
        except OSError:
            return False
    return True


def stop(state_dir: Path) -> int:
    state_dir = state_dir.resolve()
    info = _read_pid(state_dir)
    if not info:
        print("observe collector is not running (no pid file)")
        return 0
    pid = int(info["pid"])
    if _alive_collector(pid):
        _terminate(pid)
        print(f"observe collector stopped (pid {pid})")
    else:
        print(f"observe collector pid {pid} was already gone; removed the stale pid file")
    (state_dir / PID_FILE).unlink(missing_ok=True)
    return 0


def status(state_dir: Path) -> int:
    info = _read_pid(state_dir.resolve())
    if not info or not _alive_collector(int(info["pid"])):
        print("observe collector: not running")
        return 3
    h = health(info["url"])
    print(f"observe collector: pid {info['pid']} at {info['url']}: " + (json.dumps(h) if h else "not answering"))
    return 0 if h else 1
