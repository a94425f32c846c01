"""The Observe datastream token: held so that it cannot leak into logs, reprs or errors.

Anyone holding the token can write into the customer's Observe datastream, so
it lives in Secrets Manager (or SSM SecureString) on AWS and in the
environment only locally. In the process it is a :class:`Secret`, whose
``str``/``repr`` are masked; :meth:`Secret.redact` scrubs it from any text
(an error message from a library, a response body echoing a header) before
that text is logged or stored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .secrets import unwrap

MASK = "********"


class Secret:
    """A string that never prints itself. Call :meth:`reveal` only where it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("the Observe token is empty")
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the secret masked."""
        return text.replace(self._value, MASK) if text else text

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> Any:
        # Pickling would write the token into whatever holds the pickle.
        raise TypeError("a Secret is not picklable")


def token_from_env(env: Mapping[str, str] | None = None, *, session: Any = None) -> Secret:
    """Read the token from where the environment says it is.

    - ``OBSERVE_TOKEN_SECRET_ID``: a Secrets Manager secret (ARN or name) whose
      string is the token, or a JSON object with a ``token`` key;
    - ``OBSERVE_TOKEN_PARAMETER``: an SSM parameter (SecureString) holding it;
    - ``OBSERVE_TOKEN``: the token itself (local runs and tests only).

    ``session`` is a boto3 session (or anything with ``client(name)``); the
    default session is used when it is None. Call once per execution
    environment and keep the result: a cold start pays for the lookup, not
    every invocation.
    """
    env = os.environ if env is None else env
    secret_id = env.get("OBSERVE_TOKEN_SECRET_ID")
    parameter = env.get("OBSERVE_TOKEN_PARAMETER")
    if secret_id:
        client = _client(session, "secretsmanager")
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
        return Secret(_unwrap(value))
    if parameter:
        client = _client(session, "ssm")
        value = client.get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]
        return Secret(_unwrap(value))
    token = env.get("OBSERVE_TOKEN")
    if token:
        return Secret(token)
    raise ValueError("no Observe token: set OBSERVE_TOKEN_SECRET_ID, OBSERVE_TOKEN_PARAMETER or OBSERVE_TOKEN")


def _client(session: Any, name: str) -> Any:
    if session is None:
        import boto3  # in the Lambda runtime; imported here so the module loads without it

        session = boto3.session.Session()
    return session.client(name)


def _unwrap(value: str) -> str:
    """Accept the token as the whole secret string or as ``{"token": "..."}``."""
    return unwrap(value, "token")
