"""The errors the review loop raises when Labelbox fails, and the one place SDK errors become them.

Why typed errors: the sampler and webhook Lambdas let any exception escape
so that Lambda retries the event (and parks it in the dead-letter queue when
retries run out); the type says *why*, for logs, metrics and alarms, without
parsing SDK messages. The SDK raises ``lbox.exceptions.LabelboxError``
subclasses, ``requests`` errors, ``ValueError`` and even bare ``Exception``
depending on the call; ``sdk_errors()`` maps all of them here.

- ``LabelboxUnavailableError``: Labelbox could not be reached or answered 5xx /
  timed out. Retrying later is the cure.
- ``LabelboxRejectedError``: Labelbox answered and refused (a failed import
  line, a data row it would not create, a query it calls invalid). Retrying
  will not help until someone looks; it still raises, so nothing is dropped.
- ``LabelboxSetupError``: ``ensure_setup`` found something it will not change
  silently (a project connected to an ontology without the box tool).

All three derive from ``LabelboxError`` so a caller can catch the family.
Stdlib only: importing this module does not import the SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "LabelboxError",
    "LabelboxUnavailableError",
    "LabelboxRejectedError",
    "LabelboxSetupError",
    "sdk_errors",
]


class LabelboxError(Exception):
    """A Labelbox call in the review loop failed; ``action`` says which step."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message


class LabelboxUnavailableError(LabelboxError):
    """Labelbox unreachable, 5xx, rate-limited or timed out: retry later."""


class LabelboxRejectedError(LabelboxError):
    """Labelbox answered and refused the request (validation, import failures)."""


class LabelboxSetupError(LabelboxError):
    """The Labelbox workspace is not in a state ``ensure_setup`` may fix on its own."""


# SDK exception class names (lbox.exceptions) that mean "try again later".
_TRANSIENT = {
    "InternalServerError",
    "TimeoutError",
    "NetworkError",
    "ApiLimitError",
    "ProcessingWaitTimeout",
    "RetryError",  # google.api_core: the SDK's own retries (5xx, timeouts) ran out
}


def _is_transient(exc: BaseException) -> bool:
    try:
        import requests  # the SDK depends on it; imported lazily so this module stays light

        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return True
        if isinstance(exc, requests.HTTPError) and exc.response is not None and exc.response.status_code >= 500:
            return True
    except ImportError:  # pragma: no cover - requests comes with the SDK
        pass
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return any(cls.__name__ in _TRANSIENT for cls in type(exc).__mro__)


@contextmanager
def sdk_errors(action: str) -> Iterator[None]:
    """Run SDK calls for ``action``; re-raise anything they raise as a ``LabelboxError`` subclass.

    Our own ``LabelboxError``s pass through unchanged, and so do programming
    errors that no retry can fix (``TypeError``, ``AttributeError``,
    ``NameError``, ``AssertionError``), so a bug is not mistaken for an outage.
    """
    try:
        yield
    except LabelboxError:
        raise
    except (TypeError, AttributeError, NameError, AssertionError):
        raise
    except Exception as exc:  # noqa: BLE001 - the SDK raises anything; we classify it
        kind = LabelboxUnavailableError if _is_transient(exc) else LabelboxRejectedError
        raise kind(action, f"{type(exc).__name__}: {exc}") from exc
