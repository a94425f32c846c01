"""The Observe HTTP client against the local collector: headers, retries, auth, limits, secrecy."""

from __future__ import annotations

import gzip
import json
import logging
import time

import pytest
from modelobs import observe
from modelobs.observe import (
    DEADLINE,
    REJECTED,
    RETRIES_EXHAUSTED,
    UNAUTHORIZED,
    ObserveClient,
    ObserveConfig,
    Response,
    RetryPolicy,
    TransportError,
    parse_retry_after,
)
from modelobs.observe_batch import batch_of
from modelobs.observe_secret import Secret

from tests.unit.conftest import OBSERVE_TOKEN as TOKEN
from tests.unit.conftest import collector_admin as admin

PATH = "modelobs/evaluations"


def records(n: int, start: int = 0) -> list[dict]:
    return [{"id": str(i), "timestamp": 1767600000000 + i, "message": json.dumps({"n": i})} for i in range(start, start + n)]


class Sleeps(list):
    """Records requested sleeps; sleeps for real only when asked (Retry-After timing)."""

    def __init__(self, real: bool = False) -> None:
        super().__init__()
        self.real = real

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.real:
            time.sleep(seconds)


def client_for(server_url: str, token: str = TOKEN, *, sleep=None, read_timeout: float = 2.0, **retry) -> ObserveClient:
    policy = dict(max_attempts=4, base_delay=0.01, max_delay=0.05, max_elapsed=10.0, max_retry_after=5.0)
    policy.update(retry)
    config = ObserveConfig(
        endpoint=server_url, token=Secret(token), path=PATH, read_timeout=read_timeout, retry=RetryPolicy(**policy)
    )
    return ObserveClient(config, sleep=sleep if sleep is not None else Sleeps(), rng=lambda: 1.0)


def only(parts):
    assert len(parts) == 1
    return parts[0][1]


def test_delivers_ndjson_gzip_with_bearer_token(collector):
    recs = records(5)
    delivery = only(client_for(collector.url).deliver(batch_of(recs)))
    assert delivery.ok and delivery.status == 200 and delivery.attempts == 1
    got = admin(collector, f"observations?path={PATH}")["observations"]
    assert [o["fields"] for o in got] == recs
    assert got[0]["extra"]["path"] == "/modelobs/evaluations"


def test_sends_the_documented_headers():
    seen = {}

    class Capture:
        def post(self, url, body, headers, timeout):
            seen.update(url=url, body=body, headers=headers)
            return Response(200, {}, b'{"ok":true}')

    config = ObserveConfig(endpoint="https://123456789012.collect.observeinc.com", token=Secret(TOKEN))
    ObserveClient(config, transport=Capture()).deliver(batch_of(records(2)))
    assert seen["url"] == "https://123456789012.collect.observeinc.com/v1/http/modelobs/evaluations"
    assert seen["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert seen["headers"]["Content-Type"] == "application/x-ndjson"
    assert seen["headers"]["Content-Encoding"] == "gzip"
    assert [json.loads(x) for x in gzip.decompress(seen["body"]).splitlines()] == records(2)


def test_retries_503_then_delivers_exactly_one_copy(collector):
    admin(collector, "fault", {"mode": "down", "status": 503, "count": 2})
    sleeps = Sleeps()
    delivery = only(client_for(collector.url, sleep=sleeps).deliver(batch_of(records(20))))
    assert delivery.ok and delivery.attempts == 3
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0]  # exponential (rng pinned to 1.0)
    assert admin(collector, f"count?path={PATH}") == {
        "path": "/modelobs/evaluations", "count": 20, "distinct_ids": 20, "duplicates": 0,
    }
    assert [r["status"] for r in admin(collector, "requests")["requests"]] == [503, 503, 200]


def test_429_retry_after_is_honoured(collector):
    admin(collector, "fault", {"mode": "down", "status": 429, "count": 1, "retry_after": 0.3})
    sleeps = Sleeps(real=True)
    start = time.monotonic()
    delivery = only(client_for(collector.url, sleep=sleeps).deliver(batch_of(records(3))))
    assert delivery.ok and delivery.attempts == 2
    assert sleeps == [pytest.approx(0.3)]
    assert time.monotonic() - start >= 0.3
    assert admin(collector, f"count?path={PATH}")["count"] == 3


def test_retry_after_longer_than_we_wait_ends_the_retries(collector):
    admin(collector, "fault", {"mode": "down", "status": 503, "retry_after": 120})
    delivery = only(client_for(collector.url).deliver(batch_of(records(1))))
    assert not delivery.ok and delivery.reason == RETRIES_EXHAUSTED and delivery.attempts == 1
    assert "Retry-After 120s" in delivery.detail


def test_outage_longer_than_the_retries_fails_after_max_attempts(collector):
    admin(collector, "fault", {"mode": "down", "status": 502})
    sleeps = Sleeps()
    delivery = only(client_for(collector.url, sleep=sleeps, max_attempts=3).deliver(batch_of(records(2))))
    assert (delivery.ok, delivery.reason, delivery.status, delivery.attempts) == (False, RETRIES_EXHAUSTED, 502, 3)
    assert len(sleeps) == 2
    assert admin(collector, "count")["count"] == 0


def test_connection_refused_is_retried_then_reported(collector):
    url = collector.url
    collector.close()  # nothing listens on that port now
    delivery = only(client_for(url, max_attempts=2).deliver(batch_of(records(1))))
    assert (delivery.reason, delivery.status, delivery.attempts) == (RETRIES_EXHAUSTED, None, 2)
    assert "Error" in delivery.detail


def test_read_timeout_is_retried_and_the_duplicate_shares_its_ids(collector):
    # The collector answers the first request after 1 s; the client gave up at 0.3 s and
    # sent again. Both copies land: at-least-once, deduplicated downstream by id.
    admin(collector, "fault", {"mode": "slow", "delay": 1.0, "count": 1})
    delivery = only(client_for(collector.url, read_timeout=0.3).deliver(batch_of(records(4))))
    assert delivery.ok and delivery.attempts == 2
    deadline = time.monotonic() + 3
    while admin(collector, "count")["count"] < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert admin(collector, "count") == {"path": None, "count": 8, "distinct_ids": 4, "duplicates": 4}


def test_wrong_token_is_not_retried_without_a_way_to_refresh_it(collector):
    sleeps = Sleeps()
    delivery = only(client_for(collector.url, token="wrong:token", sleep=sleeps).deliver(batch_of(records(2))))
    assert (delivery.ok, delivery.reason, delivery.status, delivery.attempts) == (False, UNAUTHORIZED, 401, 1)
    assert sleeps == []
    assert [r["status"] for r in admin(collector, "requests")["requests"]] == [401]


def test_wrong_token_is_retried_once_with_a_refreshed_token(collector):
    calls = []

    def provider():
        calls.append(1)
        return Secret(TOKEN)

    client = client_for(collector.url, token="stale:token")
    client._token_provider = provider
    delivery = only(client.deliver(batch_of(records(2))))
    assert delivery.ok and delivery.attempts == 2 and len(calls) == 1


def test_a_refreshed_token_that_is_still_wrong_is_tried_at_most_once(collector):
    client = client_for(collector.url, token="stale:token")
    client._token_provider = lambda: Secret("still:wrong")
    delivery = only(client.deliver(batch_of(records(2))))
    assert (delivery.reason, delivery.attempts) == (UNAUTHORIZED, 2)
    assert [r["status"] for r in admin(collector, "requests")["requests"]] == [401, 401]


def test_token_never_reaches_logs_reprs_or_details(collector, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "zzzzzzzzzzzzzzzzzzzz:WRONGwrongWRONGwrongWRONGwrong12"

    class Echo:  # a misbehaving proxy that puts the header into its error text
        def post(self, url, body, headers, timeout):
            raise TransportError(f"proxy refused {headers['Authorization']}")

    client = client_for(collector.url, token=wrong)
    bad = only(client.deliver(batch_of(records(1))))
    echo = ObserveClient(client.config, transport=Echo(), sleep=Sleeps(), rng=lambda: 1.0)
    echoed = only(echo.deliver(batch_of(records(1))))
    texts = [caplog.text, repr(client.config), str(client.config), repr(client), repr(bad), repr(echoed)]
    for text in texts:
        assert wrong not in text
        assert "WRONGwrong" not in text
    assert "********" in echoed.detail


class Scripted:
    """A transport that answers from a script of statuses (or exceptions)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.bodies: list[bytes] = []

    def post(self, url, body, headers, timeout):
        self.bodies.append(gzip.decompress(body))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(self.bodies[-1])
        status, headers = (answer, {}) if isinstance(answer, int) else answer
        return Response(status, headers, b'{"ok":false,"message":"scripted"}')


def scripted_client(transport, clock=None, sleep=None, **retry) -> ObserveClient:
    policy = dict(max_attempts=4, base_delay=0.5, max_delay=4.0, max_elapsed=30.0)
    policy.update(retry)
    config = ObserveConfig(endpoint="http://127.0.0.1:9", token=Secret(TOKEN), retry=RetryPolicy(**policy))
    kwargs = {} if clock is None else {"clock": clock}
    return ObserveClient(config, transport=transport, sleep=sleep or Sleeps(), rng=lambda: 1.0, **kwargs)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_4xx_fail_at_once(status):
    transport = Scripted(status)
    delivery = only(scripted_client(transport).deliver(batch_of(records(2))))
    assert (delivery.reason, delivery.status, delivery.attempts) == (REJECTED, status, 1)
    assert "scripted" in delivery.detail


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(status):
    transport = Scripted(status, 200)
    assert only(scripted_client(transport).deliver(batch_of(records(1)))).attempts == 2


def test_413_splits_the_batch_until_it_fits():
    too_big = lambda body: Response(413 if body.count(b"\n") > 2 else 200, {}, b"")  # noqa: E731
    transport = Scripted(too_big)
    parts = scripted_client(transport).deliver(batch_of(records(8)))
    assert [len(b) for b, _ in parts] == [2, 2, 2, 2]
    assert all(d.ok for _, d in parts)
    assert [r for b, _ in parts for r in b.records] == records(8)


def test_413_for_one_record_fails_that_record():
    parts = scripted_client(Scripted(413)).deliver(batch_of(records(1)))
    assert [d.reason for _, d in parts] == [observe.TOO_LARGE]


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [policy.backoff(i, lambda: 1.0) for i in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert policy.backoff(3, lambda: 0.25) == 1.0


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_total_time_is_bounded_by_max_elapsed():
    clock = FakeClock()
    transport = Scripted(503)
    delivery = only(
        scripted_client(transport, clock=clock, sleep=clock.sleep, max_attempts=100, max_elapsed=5.0).deliver(
            batch_of(records(1))
        )
    )
    assert delivery.reason == RETRIES_EXHAUSTED
    assert clock.now - 1000.0 <= 5.0
    assert delivery.attempts < 100


def test_no_sleep_runs_past_the_callers_deadline():
    clock = FakeClock()
    client = scripted_client(Scripted(503), clock=clock, sleep=clock.sleep, max_attempts=100, max_elapsed=60.0)
    delivery = only(client.deliver(batch_of(records(1)), deadline=clock.now + 2.0))
    assert delivery.reason == RETRIES_EXHAUSTED and clock.now <= 1002.0


def test_a_passed_deadline_means_no_attempt():
    clock = FakeClock()
    transport = Scripted(200)
    delivery = only(scripted_client(transport, clock=clock).deliver(batch_of(records(1)), deadline=clock.now - 1))
    assert (delivery.reason, delivery.attempts) == (DEADLINE, 0)
    assert transport.bodies == []


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412490.0) == 0.0


def test_config_from_env():
    env = {"OBSERVE_CUSTOMER_ID": "123456789012", "OBSERVE_TOKEN": TOKEN, "OBSERVE_MAX_ATTEMPTS": "7", "OBSERVE_MAX_ELAPSED_S": "12.5"}
    config = ObserveConfig.from_env(env)
    assert config.url() == "https://123456789012.collect.observeinc.com/v1/http/modelobs/evaluations"
    assert (config.retry.max_attempts, config.retry.max_elapsed) == (7, 12.5)
    local = ObserveConfig.from_env({"OBSERVE_ENDPOINT": "http://127.0.0.1:8491/", "OBSERVE_PATH": "/a/b/", "OBSERVE_TOKEN": TOKEN})
    assert local.url() == "http://127.0.0.1:8491/v1/http/a/b"
    assert TOKEN not in repr(config)


@pytest.mark.parametrize(
    "env, words",
    [
        ({"OBSERVE_TOKEN": TOKEN}, "OBSERVE_CUSTOMER_ID"),
        ({"OBSERVE_CUSTOMER_ID": "1"}, "no Observe token"),
        ({"OBSERVE_CUSTOMER_ID": "evil.com/x", "OBSERVE_TOKEN": TOKEN}, "not a customer id"),
        ({"OBSERVE_ENDPOINT": "http://collector.example.com", "OBSERVE_TOKEN": TOKEN}, "only allowed to localhost"),
        ({"OBSERVE_ENDPOINT": "ftp://x", "OBSERVE_TOKEN": TOKEN}, "http"),
        ({"OBSERVE_ENDPOINT": "http://127.0.0.1:1", "OBSERVE_PATH": "../x", "OBSERVE_TOKEN": TOKEN}, "path"),
        ({"OBSERVE_ENDPOINT": "http://127.0.0.1:1", "OBSERVE_MAX_ATTEMPTS": "many", "OBSERVE_TOKEN": TOKEN}, "OBSERVE_MAX_ATTEMPTS"),
    ],
)
def test_config_errors_say_what_to_fix(env, words):
    with pytest.raises(ValueError, match=words):
        ObserveConfig.from_env(env)
