"""Process-tree helpers: an environment must leave nothing behind when it stops.

Each environment's init runs in its own session (so its PID is its process group),
and it starts the runtime in another session (so a timed-out runtime can be killed
with everything the handler spawned). Stopping therefore signals both groups and,
for processes that left their group, every descendant found in ``/proc``.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses; everything after the last ')' is fixed.
    return stat[stat.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """All live descendants of ``pid``, found by walking ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    stack = list(children.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, []))
    return found


def alive(pid: int) -> bool:
    """True for a running (non-zombie) process."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def kill_tree(pid: int, grace_s: float = 2.0) -> None:
    """SIGTERM ``pid``'s process group, wait up to ``grace_s``, then SIGKILL the group,
    every descendant and their groups. Never touches the caller's own group."""
    own_group = os.getpgrp()
    tree = [pid, *descendants(pid)]
    _signal(tree, signal.SIGTERM, own_group, only_first=True)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    tree = list(dict.fromkeys(tree + descendants(pid)))
    _signal([p for p in tree if alive(p)], signal.SIGKILL, own_group)


def _signal(pids: list[int], sig: int, own_group: int, only_first: bool = False) -> None:
    targets = pids[:1] if only_first else pids
    groups: set[int] = set()
    for p in targets:
        try:
            groups.add(os.getpgid(p))
        except ProcessLookupError:
            pass
    for group in groups - {own_group, 0, 1}:
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for p in targets:
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            pass
