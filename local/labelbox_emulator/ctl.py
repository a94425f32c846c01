#!/usr/bin/env python3
"""Start, stop and inspect the local Labelbox emulator as a background process.

Usage::

    python3 local/labelbox_emulator/ctl.py start    # no-op if ours is already up; waits for health
    python3 local/labelbox_emulator/ctl.py stop     # stop exactly what `start` started
    python3 local/labelbox_emulator/ctl.py status   # exit 0 if healthy, 3 if not running

The emulator runs in its own session (its pid is its process group), bound
to 127.0.0.1, with its pid, port and URL in ``.local/labelbox/emulator.pid.json``,
its log in ``.local/labelbox/emulator.log`` and its state in
``.local/labelbox/state`` (kept across restarts; ``--fresh`` starts empty).
``stop`` checks that the pid still runs the emulator before signalling it
(a pid file can outlive its process and the pid be reused), sends SIGTERM to
the group, and SIGKILL only if it has not exited after a grace period.

Stdlib only: any Python 3.9+ runs it (the emulator itself is stdlib only too).
Environment: ``LABELBOX_EMULATOR_PORT`` (8490), ``MODELOBS_LOCAL_DIR`` (.local).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = Path(os.environ.get("MODELOBS_LOCAL_DIR", ROOT / ".local")) / "labelbox"
PID_FILE = STATE_DIR / "emulator.pid.json"
LOG_FILE = STATE_DIR / "emulator.log"
HOST = "127.0.0.1"
PORT = int(os.environ.get("LABELBOX_EMULATOR_PORT", "8490"))
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_emulator/health", timeout=1.0) as resp:
            return resp.status == 200 and json.loads(resp.read()).get("ok") is True
    except (OSError, ValueError):
        return False


def _is_ours(pid: int) -> bool:
    """True when ``pid`` is alive and runs the emulator (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): alive is the best we can tell
    return b"labelbox_emulator" in cmdline


def _read_pid() -> dict | None:
    try:
        return json.loads(PID_FILE.read_text())
    except (OSError, ValueError):
        return None


def start(port: int, fresh: bool, payload_version: int) -> int:
    info = _read_pid()
    if info and _is_ours(info["pid"]) and _healthy(info["url"]):
        print(f"labelbox emulator already up at {info['url']} (pid {info['pid']})")
        return 0
    if info:
        PID_FILE.unlink(missing_ok=True)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    state = STATE_DIR / "state"
    if fresh and state.exists():
        shutil.rmtree(state)
    url = f"http://{HOST}:{port}"
    if _healthy(url):
        print(f"port {port} already answers as a Labelbox emulator that is not ours; stop it or set LABELBOX_EMULATOR_PORT", file=sys.stderr)
        return 1
    env = dict(os.environ, PYTHONPATH=str(ROOT / "local"))
    cmd = [sys.executable, "-m", "labelbox_emulator", "--host", HOST, "--port", str(port), "--state-dir", str(state),
           "--webhook-payload", str(payload_version)]
    with open(LOG_FILE, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    PID_FILE.write_text(json.dumps({"pid": proc.pid, "port": port, "url": url, "started": time.time()}))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            PID_FILE.unlink(missing_ok=True)
            print(f"labelbox emulator exited with {proc.returncode}; see {LOG_FILE}", file=sys.stderr)
            return 1
        if _healthy(url):
            print(f"labelbox emulator up at {url} (pid {proc.pid}); GraphQL {url}/graphql")
            return 0
        time.sleep(0.1)
    _stop_pid(proc.pid)
    PID_FILE.unlink(missing_ok=True)
    print(f"labelbox emulator not healthy after {START_TIMEOUT_S:.0f} s; see {LOG_FILE}", file=sys.stderr)
    return 1


def _stop_pid(pid: int) -> None:
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not _is_ours(pid):
                return
            time.sleep(0.05)


def stop() -> int:
    info = _read_pid()
    if not info:
        print("labelbox emulator not running (no pid file)")
        return 0
    if _is_ours(info["pid"]):
        _stop_pid(info["pid"])
        print(f"labelbox emulator stopped (pid {info['pid']})")
    else:
        print("labelbox emulator was not running (stale pid file removed)")
    PID_FILE.unlink(missing_ok=True)
    return 0


def status() -> int:
    info = _read_pid()
    if not info or not _is_ours(info["pid"]):
        print("labelbox emulator: not running")
        return 3
    healthy = _healthy(info["url"])
    print(f"labelbox emulator: pid {info['pid']} at {info['url']} ({'healthy' if healthy else 'NOT answering'})")
    return 0 if healthy else 3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("start", "stop", "status"))
    ap.add_argument("--port", type=int, default=PORT)
    ap.add_argument("--fresh", action="store_true", help="start with empty state")
    ap.add_argument("--webhook-payload", type=int, choices=(1, 2), default=2)
    args = ap.parse_args(argv)
    if args.command == "start":
        return start(args.port, args.fresh, args.webhook_payload)
    if args.command == "stop":
        return stop()
    return status()


if __name__ == "__main__":
    sys.exit(main())
