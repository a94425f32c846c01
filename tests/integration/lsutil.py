"""Helpers for integration tests on LocalStack (fixtures are in conftest.py)."""

from __future__ import annotations

import io
import os
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLOUDCTL = ROOT / "local" / "cloudctl.py"


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def log_lines(logs_client, group: str, predicate: Callable[[list[str]], bool], timeout: float = 15.0) -> list[str]:
    """All messages of ``group`` (oldest first) once ``predicate(lines)`` holds; fails on timeout."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while True:
        try:
            events = []
            kwargs = {"logGroupName": group}
            while True:
                page = logs_client.filter_log_events(**kwargs)
                events.extend(page["events"])
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
            events.sort(key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))
            lines = [e["message"].rstrip("\n") for e in events]
        except logs_client.exceptions.ResourceNotFoundException:
            lines = []
        if predicate(lines):
            return lines
        if time.monotonic() > deadline:
            pytest.fail(f"log group {group} never matched; lines:\n" + "\n".join(lines), pytrace=False)
        time.sleep(0.5)


def function_processes(function_name: str) -> list[int]:
    """PIDs of local processes serving ``function_name`` (the environment init, the
    runtime and anything the handler started: they all carry the function's env)."""
    needle = f"AWS_LAMBDA_FUNCTION_NAME={function_name}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and needle in environ.split(b"\0"):
            found.append(int(entry))
    return found


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, every: float = 0.5):
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes (its last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)
