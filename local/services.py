#!/usr/bin/env python3
"""The local cloud's processes as one: LocalStack, the Observe collector and the Labelbox emulator.

    python3 local/services.py up | down | status

``running()`` is the context manager the demo and the tests use: it starts
what is not already up and, on exit, stops exactly what it started, so a
developer's `make up` session survives a test run and a CI run leaves
nothing behind. Stdlib only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import cloudctl  # noqa: E402
from labelbox_emulator import ctl as labelbox_ctl  # noqa: E402
from observe_collector import LOCAL_TOKEN  # noqa: E402
from observe_collector import ctl as observe_ctl  # noqa: E402

LOCAL_DIR = Path(os.environ.get("MODELOBS_LOCAL_DIR", ROOT / ".local"))
OBSERVE_PORT = int(os.environ.get("OBSERVE_PORT", "8491"))
OBSERVE_URL = f"http://127.0.0.1:{OBSERVE_PORT}"
OBSERVE_DIR = LOCAL_DIR / "observe"
LABELBOX_PORT = labelbox_ctl.PORT
LABELBOX_URL = f"http://127.0.0.1:{LABELBOX_PORT}"


@dataclass(frozen=True)
class Service:
    name: str
    is_up: Callable[[], bool]
    start: Callable[[], int]
    stop: Callable[[], int]


SERVICES = [
    Service("LocalStack", lambda: cloudctl.healthy() is not None, cloudctl.up, cloudctl.down),
    Service(
        "Observe collector",
        lambda: observe_ctl.health(OBSERVE_URL) is not None,
        lambda: observe_ctl.start(LOCAL_TOKEN, "127.0.0.1", OBSERVE_PORT, OBSERVE_DIR, False),
        lambda: observe_ctl.stop(OBSERVE_DIR),
    ),
    Service(
        "Labelbox emulator",
        lambda: labelbox_ctl._healthy(LABELBOX_URL),
        lambda: labelbox_ctl.start(LABELBOX_PORT, False, 2),
        labelbox_ctl.stop,
    ),
]


class StartError(RuntimeError):
    pass


def up(services: list[Service] | None = None) -> list[Service]:
    """Start every service that is not up; returns the ones this call started."""
    started: list[Service] = []
    for service in SERVICES if services is None else services:
        if service.is_up():
            continue
        if service.start() != 0:
            for s in reversed(started):
                s.stop()
            raise StartError(f"{service.name} did not start (see its log under {LOCAL_DIR})")
        started.append(service)
    return started


def down(services: list[Service] | None = None) -> None:
    for service in reversed(SERVICES if services is None else services):
        service.stop()


@contextlib.contextmanager
def running(keep: bool = False) -> Iterator[list[Service]]:
    started = up()
    try:
        yield started
    finally:
        if not keep:
            down(started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    if args.command == "up":
        try:
            up()
        except StartError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "down":
        down()
        return 0
    for service in SERVICES:
        print(f"{service.name:18} {'up' if service.is_up() else 'down'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
