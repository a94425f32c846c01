"""The emulator as a background process: start is idempotent, state survives a restart, stop leaves nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CTL = ROOT / "local" / "labelbox_emulator" / "ctl.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and b"labelbox_emulator" in Path(f"/proc/{pid}/cmdline").read_bytes()


@pytest.fixture
def ctl(tmp_path: Path):
    env = dict(os.environ, MODELOBS_LOCAL_DIR=str(tmp_path), LABELBOX_EMULATOR_PORT=str(_free_port()))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(CTL), *args], env=env, capture_output=True, text=True, timeout=60)

    yield run, tmp_path / "labelbox", int(env["LABELBOX_EMULATOR_PORT"])
    run("stop")


def test_start_status_restart_stop(ctl) -> None:
    pytest.importorskip("labelbox")
    from modelobs.labelbox_connect import connect

    run, state_dir, port = ctl
    assert run("status").returncode == 3
    started = run("start")
    assert started.returncode == 0, started.stderr
    info = json.loads((state_dir / "emulator.pid.json").read_text())
    assert info["url"] == f"http://127.0.0.1:{port}" and _alive(info["pid"])
    assert "already up" in run("start").stdout  # idempotent
    assert run("status").returncode == 0

    dataset = connect("k", info["url"]).create_dataset(name="survives-restart", iam_integration=None)
    assert run("stop").returncode == 0
    deadline = time.monotonic() + 5
    while _alive(info["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(info["pid"]) and not (state_dir / "emulator.pid.json").exists()

    assert run("start").returncode == 0
    assert connect("k", info["url"]).get_dataset(dataset.uid).name == "survives-restart"
    pid2 = json.loads((state_dir / "emulator.pid.json").read_text())["pid"]
    assert run("stop").returncode == 0
    assert run("status").returncode == 3
    deadline = time.monotonic() + 5
    while _alive(pid2) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid2)


def test_stop_with_a_stale_pid_file_is_harmless(ctl) -> None:
    run, state_dir, _ = ctl
    state_dir.mkdir(parents=True)
    (state_dir / "emulator.pid.json").write_text(json.dumps({"pid": 999999, "port": 1, "url": "http://127.0.0.1:1"}))
    out = run("stop")
    assert out.returncode == 0 and "stale" in out.stdout
    assert not (state_dir / "emulator.pid.json").exists()
