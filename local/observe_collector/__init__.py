"""A local stand-in for Observe's HTTP ingest API (``POST /v1/http/<path>``).

The forwarder's real HTTP client posts here instead of to
``https://<customer>.collect.observeinc.com``: same path, headers, gzip and
NDJSON, same bearer-token check and size limits. What it receives is kept in
memory and in ``<state dir>/observations.jsonl`` so the demo and the tests can
read it back, and an admin API under ``/_collector/`` simulates outages.

Stdlib only, so any Python 3.9+ runs it (make, tests, a shell).
"""

from .server import CollectorServer, Limits, serve_in_thread
from .store import ObservationStore

DEFAULT_PORT = 8491
#: The token the local stack is deployed with; shaped like a real datastream token
#: (20 characters, a colon, 32 characters). Not a secret: it only opens this emulator.
LOCAL_TOKEN = "modelobsLocal0000000:LocalCollectorTokenNotASecret000"

__all__ = ["CollectorServer", "Limits", "ObservationStore", "serve_in_thread", "DEFAULT_PORT", "LOCAL_TOKEN"]
