"""Build the Labelbox client and workspace ids a function needs, from its settings.

The API key comes from Secrets Manager, the ids from the SSM parameter
``modelobs labelbox setup`` wrote; both are read on first use and kept for
the life of the execution environment.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from .config import LabelboxSettings, load_labelbox_settings
from .secrets import secret_value


class LabelboxNotSetUpError(RuntimeError):
    """The review loop has not been connected to Labelbox yet; the message says how."""


def read_ids(parameter: str | None, ssm: Any = None) -> Any:
    from .labelbox_setup import SetupIds

    if not parameter:
        raise LabelboxNotSetUpError("LABELBOX_IDS_PARAMETER is not set")
    if ssm is None:
        import boto3

        ssm = boto3.client("ssm")
    try:
        value = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise LabelboxNotSetUpError(
            f"SSM parameter {parameter} does not exist: run `modelobs labelbox setup` (README: connecting Labelbox)"
        ) from None
    return SetupIds.from_dict(json.loads(value))


def connect_from(settings: LabelboxSettings) -> Any:
    from .labelbox_connect import connect

    key = secret_value(settings.api_key_secret_id, setting="LABELBOX_API_KEY_SECRET_ID")
    return connect(api_key=key, api_url=settings.api_url)


@cache
def labelbox() -> tuple[Any, Any]:
    """``(client, SetupIds)`` for this execution environment, from its environment variables."""
    settings = load_labelbox_settings()
    return connect_from(settings), read_ids(settings.ids_parameter)
