"""``python -m labelbox_emulator``: run the emulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .server import EmulatorServer, configure_logging

log = logging.getLogger("labelbox_emulator")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="labelbox_emulator", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")
    ap.add_argument("--port", type=int, default=8490)
    ap.add_argument("--state-dir", default=None, help="persist state here (state.json + files/); in memory if omitted")
    ap.add_argument("--api-key", default=None, help="refuse other API keys (default: accept any)")
    ap.add_argument("--webhook-payload", type=int, choices=(1, 2), default=2, help="webhook payload version (default 2: export-like)")
    ap.add_argument("--webhook-timeout", type=float, default=30.0, help="seconds to wait for a webhook receiver")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)

    configure_logging(args.verbose)
    srv = EmulatorServer(args.host, args.port, args.state_dir, args.api_key, args.webhook_payload, args.webhook_timeout)
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("signal %d: stopping", signum)
            threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("Labelbox emulator on %s (GraphQL %s/graphql, state %s)", srv.url, srv.url, args.state_dir or "in memory")
    print(f"READY {srv.url}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
        srv.store.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
