#!/usr/bin/env python3
"""Start, stop and inspect the project's embedded LocalStack (host mode, no Docker).

Usage::

    python local/cloudctl.py up       # start (no-op if ours is already up); waits for health
    python local/cloudctl.py down     # stop exactly what `up` started, children included
    python local/cloudctl.py status   # print state; exit 0 if healthy, 3 if not running

Why a script and not `localstack start`: 2026.3.0 has no host-mode CLI start, and
killing a wrapper leaves LocalStack's own Python process holding port 4566. Here the
child *is* LocalStack's Python process, started in its own session, so its PID is also
its process-group id; `down` signals that group and then every remaining descendant.

Stdlib only, so it runs under any Python 3.9+ (make, the test fixture, a shell).
State (pid file, log, LocalStack's filesystem) lives in the git-ignored `.local/`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("MODELOBS_LOCAL_DIR", ROOT / ".local")) / "localstack"
PID_FILE = STATE_DIR / "localstack.pid.json"
LOG_FILE = STATE_DIR / "localstack.log"
VENV = Path(os.environ.get("LOCALSTACK_VENV", ROOT / ".venv-localstack"))
HOST = "127.0.0.1"
PORT = int(os.environ.get("LOCALSTACK_PORT", "4566"))
ENDPOINT = f"http://{HOST}:{PORT}"
HEALTH_URL = f"{ENDPOINT}/_localstack/health"
START_TIMEOUT_S = float(os.environ.get("LOCALSTACK_START_TIMEOUT", "120"))
STOP_TIMEOUT_S = 20.0



def localstack_env() -> dict[str, str]:
    """Environment for LocalStack: inherits the caller's, then forces the host-mode settings.

    The executor settings point LocalStack's Lambda service at our no-Docker executor
    and tell it where the per-runtime virtualenvs (`.venv-lambda-<runtime>`) live.
    """
    env = dict(os.environ)
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(key, None)
    fs_root = STATE_DIR / "filesystem"
    tmp = STATE_DIR / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            # hypercorn honours the host; the default server listens on 0.0.0.0.
            "GATEWAY_SERVER": "hypercorn",
            "GATEWAY_LISTEN": f"{HOST}:{PORT}",
            "DNS_ADDRESS": "0",
            "FILESYSTEM_ROOT": str(fs_root),
            # Lambda code/layers are unzipped under tempfile.gettempdir(): keep them in .local/.
            "TMPDIR": str(tmp),
            # plux caches its entry-point index in the user cache dir: keep it here too.
            "XDG_CACHE_HOME": str(STATE_DIR / "cache"),
            "LOCALSTACK_VOLUME_DIR": str(STATE_DIR / "volume"),
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
            "EAGER_SERVICE_LOADING": "0",
            "LAMBDA_RUNTIME_EXECUTOR": env.get("LAMBDA_RUNTIME_EXECUTOR", "nodocker"),
            "LAMBDA_NODOCKER_RUNTIME_ROOT": env.get("LAMBDA_NODOCKER_RUNTIME_ROOT", str(ROOT)),
            "PYTHONUNBUFFERED": "1",
            # Async invoke retries after 1 s and 2 s instead of 1 and 2 minutes: the retry and
            # dead-letter paths stay testable in seconds.
            "LAMBDA_RETRY_BASE_DELAY": env.get("LAMBDA_RETRY_BASE_DELAY", "1"),
        }
    )
    env.setdefault("LS_LOG", "info")
    return env


# --------------------------------------------------------------------------- processes


def _proc_start_ticks(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot, or None if it is gone.

    Stored beside the PID so that `down` never signals a recycled PID.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after the last ')' are fixed.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22 overall: starttime


def _children_map() -> dict[int, list[int]]:
    """ppid -> [pid] for every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid` (children first-level first)."""
    tree = _children_map()
    found: list[int] = []
    stack = list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, []))
    return found


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _signal_groups_and_pids(pids: list[int], sig: int) -> None:
    """Send `sig` to each pid and to each distinct process group among them."""
    groups = {g for g in (_pgid(p) for p in pids) if g is not None and g > 1}
    own_group = os.getpgrp()
    for group in groups - {own_group}:
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it holds no port and will be reaped by its parent.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# --------------------------------------------------------------------------- state


@dataclass
class Started:
    """What `up` started: enough to find exactly that process again."""

    pid: int
    start_ticks: int
    endpoint: str

    @classmethod
    def load(cls) -> Started | None:
        try:
            data = json.loads(PID_FILE.read_text())
            return cls(int(data["pid"]), int(data["start_ticks"]), str(data["endpoint"]))
        except (OSError, ValueError, KeyError):
            return None

    def save(self) -> None:
        PID_FILE.write_text(json.dumps(self.__dict__))

    def is_running(self) -> bool:
        """True if the recorded PID is alive and is the very process we started."""
        return _alive(self.pid) and _proc_start_ticks(self.pid) == self.start_ticks


def healthy(timeout: float = 2.0) -> dict | None:
    """LocalStack's health document, or None if nothing healthy answers on the port."""
    try:
        with urllib.request.urlopen(HEALTH_URL, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def log_tail(lines: int = 40) -> str:
    try:
        return "\n".join(LOG_FILE.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- commands


def up() -> int:
    """Start LocalStack unless ours is already running; wait until it is healthy."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    started = Started.load()
    if started and started.is_running():
        if healthy():
            print(f"LocalStack already up (pid {started.pid}) at {ENDPOINT}")
            return 0
        print(f"LocalStack (pid {started.pid}) is running but not healthy yet; waiting")
        return _wait_healthy(started, time.monotonic())
    if healthy():
        print(f"LocalStack already answers at {ENDPOINT} (not started by cloudctl; leaving it alone)")
        return 0

    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"error: {python} missing; run `make localstack-venv` first", file=sys.stderr)
        return 2
    shown = LOG_FILE.relative_to(ROOT) if LOG_FILE.is_relative_to(ROOT) else LOG_FILE
    print(f"==> starting LocalStack on {ENDPOINT} (log: {shown})")
    t0 = time.monotonic()
    with open(LOG_FILE, "ab") as log:
        log.write(f"\n===== cloudctl up {time.strftime('%Y-%m-%dT%H:%M:%S')} =====\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            cwd=STATE_DIR,
            env=localstack_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # pid == pgid: `down` can signal the whole group
        )
    ticks = _proc_start_ticks(proc.pid)
    started = Started(proc.pid, ticks if ticks is not None else -1, ENDPOINT)
    started.save()
    return _wait_healthy(started, t0, proc)


def _wait_healthy(started: Started, t0: float, proc: subprocess.Popen | None = None) -> int:
    deadline = t0 + START_TIMEOUT_S
    while time.monotonic() < deadline:
        exited = proc.poll() is not None if proc else not started.is_running()
        if exited:
            print("error: LocalStack exited during startup; log tail:", file=sys.stderr)
            print(log_tail(), file=sys.stderr)
            PID_FILE.unlink(missing_ok=True)
            return 1
        doc = healthy(timeout=1.0)
        if doc is not None:
            print(f"LocalStack {doc.get('version', '?')} up in {time.monotonic() - t0:.1f}s at {ENDPOINT}")
            return 0
        time.sleep(0.25)
    print(f"error: LocalStack not healthy after {START_TIMEOUT_S:.0f}s; log tail:", file=sys.stderr)
    print(log_tail(), file=sys.stderr)
    _stop(started)
    return 1


def _stop(started: Started) -> None:
    """SIGTERM LocalStack's group (it shuts its Lambda environments down), then SIGKILL
    whatever of its group or its descendants is left."""
    if not started.is_running():
        return
    tree = [started.pid, *descendants(started.pid)]
    _signal_groups_and_pids([started.pid], signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _alive(started.pid):
        time.sleep(0.2)
    # Anything started meanwhile counts too; then kill the lot (no-op for the exited).
    tree = list(dict.fromkeys(tree + descendants(started.pid)))
    leftovers = [p for p in tree if _alive(p)]
    if leftovers:
        _signal_groups_and_pids(leftovers, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in tree):
        time.sleep(0.1)


def down() -> int:
    started = Started.load()
    if not started or not started.is_running():
        PID_FILE.unlink(missing_ok=True)
        note = " (something else answers on the port; not ours to stop)" if healthy() else ""
        print(f"LocalStack not running (nothing started by cloudctl){note}")
        return 0
    print(f"==> stopping LocalStack (pid {started.pid})")
    t0 = time.monotonic()
    _stop(started)
    PID_FILE.unlink(missing_ok=True)
    if started.is_running():
        print(f"error: pid {started.pid} survived SIGKILL", file=sys.stderr)
        return 1
    print(f"LocalStack stopped in {time.monotonic() - t0:.1f}s")
    return 0


def status() -> int:
    started = Started.load()
    doc = healthy()
    ours = bool(started and started.is_running())
    if ours:
        kids = descendants(started.pid)
        print(f"LocalStack pid {started.pid} running ({len(kids)} child processes), endpoint {ENDPOINT}")
    elif doc is not None:
        print(f"LocalStack answers at {ENDPOINT} but was not started by cloudctl")
    else:
        print("LocalStack not running")
        return 3
    if doc is None:
        print("health: not answering")
        return 1
    running = sorted(k for k, v in doc.get("services", {}).items() if v == "running")
    print(f"health: version {doc.get('version', '?')}; running: {', '.join(running) or '-'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status", "endpoint", "log"])
    args = parser.parse_args(argv)
    if args.command == "endpoint":
        print(ENDPOINT)
        return 0
    if args.command == "log":
        print(log_tail(200))
        return 0
    return {"up": up, "down": down, "status": status}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
