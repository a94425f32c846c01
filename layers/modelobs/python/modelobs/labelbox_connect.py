"""One way to build the SDK client, so every caller points at the same Labelbox.

Labelbox's SDK takes two URLs (GraphQL ``endpoint`` and REST
``rest_endpoint``) that always share a base; the functions and the CLI are
configured with that one base (``LABELBOX_API_URL``): unset for the real
Labelbox (``https://api.labelbox.com``), ``http://127.0.0.1:8490`` for the
local emulator. The SDK also derives ``<base>/_gql`` for some calls and
follows the file URLs the server hands out; both come from the same base.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["DEFAULT_API_URL", "connect", "endpoints"]

DEFAULT_API_URL = "https://api.labelbox.com"


def endpoints(api_url: str | None = None) -> dict[str, str]:
    """``{"endpoint": <base>/graphql, "rest_endpoint": <base>/api/v1}`` for a base URL."""
    base = (api_url or DEFAULT_API_URL).rstrip("/")
    if base.endswith("/graphql"):
        base = base[: -len("/graphql")]
    return {"endpoint": f"{base}/graphql", "rest_endpoint": f"{base}/api/v1"}


def connect(api_key: str | None = None, api_url: str | None = None) -> Any:
    """A ``labelbox.Client`` for ``api_url`` (default ``$LABELBOX_API_URL``, else Labelbox itself).

    ``api_key`` defaults to ``$LABELBOX_API_KEY``, as in the SDK. The client
    makes no request until it is used, so building one at Lambda init is cheap.
    """
    import labelbox  # the SDK is imported only by callers that talk to Labelbox

    api_url = api_url or os.environ.get("LABELBOX_API_URL") or None
    return labelbox.Client(api_key=api_key, **endpoints(api_url))
