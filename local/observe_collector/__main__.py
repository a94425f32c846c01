"""``python -m observe_collector [serve|start|stop|status] [--port 8491] [--token T] [--state-dir .local/observe]``

``serve`` (the default) runs in the foreground. ``start``/``stop``/``status``
manage a background collector through ``<state dir>/collector.pid.json``.
The token comes from ``--token``, else ``$OBSERVE_COLLECTOR_TOKEN``, else
the package's fixed :data:`LOCAL_TOKEN`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import DEFAULT_PORT, LOCAL_TOKEN
from .ctl import TOKEN_ENV, serve, start, status, stop
from .server import Limits

COMMANDS = ("serve", "start", "stop", "status")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        argv.insert(0, "serve")
    parser = argparse.ArgumentParser(prog="python -m observe_collector", description="Local Observe HTTP ingest emulator")
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback: the admin API has no auth)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("OBSERVE_COLLECTOR_PORT", DEFAULT_PORT)))
    parser.add_argument("--token", default=None, help=f"bearer token to accept (default ${TOKEN_ENV} or the local token)")
    parser.add_argument("--state-dir", type=Path, default=Path(".local/observe"))
    parser.add_argument("--fresh", action="store_true", help="start empty instead of loading observations.jsonl")
    parser.add_argument("--max-request-bytes", type=int, default=Limits.max_request_bytes)
    parser.add_argument("--max-observation-bytes", type=int, default=Limits.max_observation_bytes)
    parser.add_argument("--verbose", action="store_true", help="log every request line")
    args = parser.parse_args(argv)
    token = args.token or os.environ.get(TOKEN_ENV) or LOCAL_TOKEN
    if args.command == "serve":
        limits = Limits(max_request_bytes=args.max_request_bytes, max_observation_bytes=args.max_observation_bytes)
        return serve(token, args.host, args.port, args.state_dir, args.fresh, limits, quiet=not args.verbose)
    if args.command == "start":
        return start(token, args.host, args.port, args.state_dir, args.fresh)
    if args.command == "stop":
        return stop(args.state_dir)
    return status(args.state_dir)


if __name__ == "__main__":
    sys.exit(main())
