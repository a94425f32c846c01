"""Send NDJSON batches to Observe's HTTP ingest endpoint, retrying what a retry can fix.

``POST {endpoint}/v1/http/{path}`` with ``Authorization: Bearer <token>``,
``Content-Type: application/x-ndjson`` and a gzip body. The outcome of each
batch is a :class:`Delivery`; this module never stores anything itself (see
:mod:`modelobs.observe_forward` for what happens to a batch that failed).

Retry rules, and why:

- 429, 408 and 5xx, timeouts and connection errors are transient: retried with
  exponential backoff and full jitter (many forwarders retrying in step would
  hit a recovering service together), honouring ``Retry-After``.
- Every batch has a bounded number of attempts and a bounded time, and the
  caller passes a ``deadline`` (the Lambda's remaining time): a sleep never
  runs past it, because a Lambda killed mid-sleep loses the failure record too.
- 401/403 mean the token is wrong: repeating the same request cannot fix that.
  With a ``token_provider`` (which re-reads a rotated secret) the request is
  tried once more with the fresh token; otherwise not at all.
- 413 splits the batch in halves and sends each (the service measured the body
  differently from us); a single record that is still too large fails.
- Any other 4xx fails at once: the request itself is wrong.

A timeout after the body was sent may mean Observe has it; the retry then
sends it twice. Every record carries the CloudWatch event ``id``, which
Observe datasets deduplicate on.

Only :mod:`urllib3` (shipped with botocore in every Lambda Python runtime)
and the standard library are used, so the layer needs no HTTP package.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import urllib3

from .observe_batch import Batch, BatchLimits
from .observe_secret import Secret

log = logging.getLogger("modelobs.observe")

DEFAULT_PATH = "modelobs/evaluations"
USER_AGENT = "modelobs-observe-forwarder/1"
_CUSTOMER_ID = re.compile(r"^[0-9A-Za-z-]{1,63}$")
_PATH = re.compile(r"^[A-Za-z0-9._~/-]+$")

# Reasons a batch was not delivered: stable words for logs, metrics and the failure store.
DELIVERED = "delivered"
UNAUTHORIZED = "unauthorized"  # 401/403
REJECTED = "rejected"  # another 4xx: the request is wrong, a retry sends the same wrong request
TOO_LARGE = "too_large"  # 413 for a single record
RETRIES_EXHAUSTED = "retries_exhausted"  # transient failures until attempts or time ran out
DEADLINE = "deadline"  # the caller's deadline came before (another) attempt


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying one batch. Defaults suit a Lambda with a 60 s timeout."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: Time for one batch, attempts and sleeps together.
    max_elapsed: float = 30.0
    #: Longest ``Retry-After`` we wait; a longer one ends the retries (the batch is stored for replay).
    max_retry_after: float = 30.0
    #: Attempts with a refreshed token after a 401/403 (only with a token provider).
    auth_retries: int = 1

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.max_elapsed, self.max_retry_after) < 0:
            raise ValueError("retry delays must not be negative")

    def backoff(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**retry)]; ``retry`` counts from 0."""
        return rng() * min(self.max_delay, self.base_delay * (2**retry))


@dataclass(frozen=True)
class ObserveConfig:
    """Where and how to send. Build it with :meth:`from_env` in a function, directly in tests."""

    endpoint: str
    token: Secret = field(repr=False)
    path: str = DEFAULT_PATH
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    retry: RetryPolicy = RetryPolicy()
    limits: BatchLimits = BatchLimits()
    gzip_level: int = 6

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", check_endpoint(self.endpoint))
        object.__setattr__(self, "path", check_path(self.path))
        if not isinstance(self.token, Secret):
            raise TypeError("token must be a modelobs.observe_secret.Secret")

    def url(self, path: str | None = None) -> str:
        return f"{self.endpoint}/v1/http/{check_path(path or self.path)}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, token: Secret | None = None) -> "ObserveConfig":
        """Read the settings; ``token`` defaults to :func:`~modelobs.observe_secret.token_from_env`.

        ``OBSERVE_ENDPOINT`` (a base URL, e.g. the local collector's) wins over
        ``OBSERVE_CUSTOMER_ID`` (which makes ``https://<id>.collect.observeinc.com``).
        """
        from .observe_secret import token_from_env

        env = os.environ if env is None else env
        endpoint = env.get("OBSERVE_ENDPOINT") or ""
        if not endpoint:
            customer = env.get("OBSERVE_CUSTOMER_ID") or ""
            if not customer:
                raise ValueError("set OBSERVE_CUSTOMER_ID (or OBSERVE_ENDPOINT for a local collector)")
            endpoint = customer_endpoint(customer)
        defaults = RetryPolicy()
        retry = RetryPolicy(
            max_attempts=_num(env, "OBSERVE_MAX_ATTEMPTS", defaults.max_attempts, int),
            base_delay=_num(env, "OBSERVE_BACKOFF_BASE_S", defaults.base_delay, float),
            max_delay=_num(env, "OBSERVE_BACKOFF_MAX_S", defaults.max_delay, float),
            max_elapsed=_num(env, "OBSERVE_MAX_ELAPSED_S", defaults.max_elapsed, float),
            max_retry_after=_num(env, "OBSERVE_MAX_RETRY_AFTER_S", defaults.max_retry_after, float),
        )
        dl = BatchLimits()
        limits = BatchLimits(
            max_record_bytes=_num(env, "OBSERVE_MAX_RECORD_BYTES", dl.max_record_bytes, int),
            max_batch_bytes=_num(env, "OBSERVE_MAX_BATCH_BYTES", dl.max_batch_bytes, int),
            max_batch_records=_num(env, "OBSERVE_MAX_BATCH_RECORDS", dl.max_batch_records, int),
        )
        return cls(
            endpoint=endpoint,
            token=token if token is not None else token_from_env(env),
            path=env.get("OBSERVE_PATH") or DEFAULT_PATH,
            connect_timeout=_num(env, "OBSERVE_CONNECT_TIMEOUT_S", 3.0, float),
            read_timeout=_num(env, "OBSERVE_READ_TIMEOUT_S", 10.0, float),
            retry=retry,
            limits=limits,
        )


def customer_endpoint(customer_id: str) -> str:
    if not _CUSTOMER_ID.match(customer_id):
        raise ValueError(f"OBSERVE_CUSTOMER_ID {customer_id!r} is not a customer id")
    return f"https://{customer_id}.collect.observeinc.com"


def check_endpoint(endpoint: str) -> str:
    """A base URL without a trailing slash; plain http only to a loopback address (the token would go in clear)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"Observe endpoint {endpoint!r} must be an http(s) URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"Observe endpoint {endpoint!r}: plain http is only allowed to localhost")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"Observe endpoint {endpoint!r} must not carry a query, fragment or credentials")
    return endpoint.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_path(path: str) -> str:
    """The part after ``/v1/http/``: it becomes a tag on every observation, so keep it plain."""
    cleaned = path.strip("/")
    if not cleaned or not _PATH.match(cleaned) or ".." in cleaned.split("/"):
        raise ValueError(f"Observe path {path!r} must be like 'modelobs/evaluations'")
    return quote(cleaned, safe="/")


def _num(env: Mapping[str, str], name: str, default: Any, kind: type) -> Any:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if value < 0:
        raise ValueError(f"{name}={raw!r} must not be negative")
    return value


def deadline_from_context(context: Any, reserve_s: float = 3.0) -> float | None:
    """A ``time.monotonic()`` deadline ``reserve_s`` before the Lambda times out.

    The reserve is for writing failed batches to S3 after the last attempt.
    """
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return None
    return time.monotonic() + max(0.0, remaining_ms() / 1000.0 - reserve_s)


# --- transport ------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    """One HTTP POST, no retries. Raises :class:`TransportError` when no response came back."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: tuple[float, float]) -> Response: ...


class TransportError(Exception):
    """The request got no HTTP response: connection refused/reset, DNS, TLS or a timeout."""


class Urllib3Transport:
    """Pooled connections, so the batches of one invocation (and warm invocations) reuse one TLS session."""

    def __init__(self, pool: urllib3.PoolManager | None = None) -> None:
        self._pool = pool or urllib3.PoolManager(num_pools=4, maxsize=2)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: tuple[float, float]) -> Response:
        try:
            resp = self._pool.request(
                "POST",
                url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None
        return Response(status=resp.status, headers={k.lower(): v for k, v in resp.headers.items()}, body=resp.data)


# --- the client -------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending one batch (after its retries).

    ``detail`` is for people and is already scrubbed of the token.
    """

    ok: bool
    reason: str
    status: int | None
    attempts: int
    detail: str = ""
    elapsed_s: float = 0.0


class ObserveClient:
    """Sends batches; knows nothing of S3 or Lambda.

    ``sleep``, ``clock`` and ``rng`` are injectable so tests run without real
    waiting; ``token_provider`` returns the current token (e.g. re-read from
    Secrets Manager) and is called only after a 401/403.
    """

    def __init__(
        self,
        config: ObserveConfig,
        *,
        transport: Transport | None = None,
        token_provider: Callable[[], Secret] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._transport = transport or Urllib3Transport()
        self._token_provider = token_provider
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    def __repr__(self) -> str:
        return f"ObserveClient(endpoint={self.config.endpoint!r}, path={self.config.path!r})"

    def deliver(
        self, batch: Batch, *, path: str | None = None, deadline: float | None = None
    ) -> list[tuple[Batch, Delivery]]:
        """Send ``batch`` to ``path``; one (batch, delivery) per part (more than one only after a 413 split)."""
        url = self.config.url(path)
        return self._deliver(batch, url, deadline)

    def _deliver(self, batch: Batch, url: str, deadline: float | None) -> list[tuple[Batch, Delivery]]:
        delivery = self._send_with_retries(batch, url, deadline)
        if delivery.reason == TOO_LARGE and len(batch) > 1:
            log.warning("observe: 413 for a batch of %d records; sending it in halves", len(batch))
            left, right = batch.halves()
            return self._deliver(left, url, deadline) + self._deliver(right, url, deadline)
        return [(batch, delivery)]

    def _send_with_retries(self, batch: Batch, url: str, deadline: float | None) -> Delivery:
        policy = self.config.retry
        start = self._clock()
        stop_at = start + policy.max_elapsed
        if deadline is not None:
            stop_at = min(stop_at, deadline)
        body = batch.gzipped(self.config.gzip_level)
        token = self.config.token
        attempts = transient = auth_retries = 0
        status: int | None = None
        detail = ""

        def done(ok: bool, reason: str) -> Delivery:
            return Delivery(ok, reason, status, attempts, token.redact(detail), self._clock() - start)

        while True:
            remaining = stop_at - self._clock()
            if remaining <= 0.01:
                return done(False, DEADLINE if attempts == 0 else RETRIES_EXHAUSTED)
            attempts += 1
            headers = {
                "Authorization": f"Bearer {token.reveal()}",
                "Content-Type": "application/x-ndjson",
                "Content-Encoding": "gzip",
                "User-Agent": USER_AGENT,
            }
            timeout = (min(self.config.connect_timeout, remaining), min(self.config.read_timeout, remaining))
            retry_after: float | None = None
            try:
                resp = self._transport.post(url, body, headers, timeout)
            except TransportError as exc:
                status, detail = None, str(exc)
            else:
                status, detail = resp.status, _snippet(resp.body)
                if 200 <= resp.status < 300:
                    return done(True, DELIVERED)
                if resp.status in (401, 403):
                    if self._token_provider is None or auth_retries >= policy.auth_retries:
                        log.error("observe: %d from %s; the token is not accepted, not retrying", status, url)
                        return done(False, UNAUTHORIZED)
                    auth_retries += 1
                    token = self._token_provider()
                    log.warning("observe: %d from %s; retrying once with a re-read token", status, url)
                    continue
                if resp.status == 413:
                    return done(False, TOO_LARGE)
                if resp.status not in (408, 429) and resp.status < 500:
                    log.error("observe: %d from %s: %s", status, url, token.redact(detail))
                    return done(False, REJECTED)
                retry_after = parse_retry_after(resp.headers.get("retry-after"))
            # Transient: back off, unless attempts or time are used up.
            if attempts - auth_retries >= policy.max_attempts:
                log.error("observe: giving up on %s after %d attempts (%s)", url, attempts, _what(status, detail, token))
                return done(False, RETRIES_EXHAUSTED)
            delay = policy.backoff(transient, self._rng)
            if retry_after is not None:
                if retry_after > policy.max_retry_after:
                    detail = f"Retry-After {retry_after:g}s exceeds the {policy.max_retry_after:g}s we wait; " + detail
                    return done(False, RETRIES_EXHAUSTED)
                delay = max(delay, retry_after)
            transient += 1
            if self._clock() + delay >= stop_at:
                log.error(
                    "observe: no time for another attempt to %s (%s, next in %.2fs)",
                    url,
                    _what(status, detail, token),
                    delay,
                )
                return done(False, RETRIES_EXHAUSTED)
            log.warning(
                "observe: attempt %d to %s failed (%s); retrying in %.2fs",
                attempts,
                url,
                _what(status, detail, token),
                delay,
            )
            self._sleep(delay)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def _snippet(body: bytes, limit: int = 300) -> str:
    text = body[:limit].decode("utf-8", errors="replace").strip()
    return text + ("…" if len(body) > limit else "")


def _what(status: int | None, detail: str, token: Secret) -> str:
    return token.redact(f"{status if status is not None else 'no response'}: {detail}")


def with_overrides(config: ObserveConfig, **changes: Any) -> ObserveConfig:
    """A copy of ``config`` with some fields changed (e.g. a shorter retry budget for replay)."""
    return replace(config, **changes)
