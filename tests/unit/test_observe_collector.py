"""The local Observe collector: the ingest API's checks, the admin API, persistence, start/stop."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from local.observe_collector import LOCAL_TOKEN, Limits, serve_in_thread

TOKEN = "abcdefghij0123456789:SECRETsecretSECRETsecretSECRET12"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def collector(tmp_path):
    server = serve_in_thread(TOKEN, state_dir=tmp_path / "observe", limits=Limits(max_request_bytes=4096, max_decompressed_bytes=8192, max_observation_bytes=512))
    yield server
    server.close()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def ingest(server, body: bytes, *, token: str | None = TOKEN, ctype="application/x-ndjson", gz=True, path="modelobs/evaluations"):
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if gz:
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body)
    return post(f"{server.url}/v1/http/{path}", body, headers)


def get(server, what: str) -> dict:
    with urllib.request.urlopen(f"{server.url}/_collector/{what}") as r:
        return json.loads(r.read())


def admin(server, what: str, doc: dict) -> dict:
    return post(f"{server.url}/_collector/{what}", json.dumps(doc).encode(), {"Content-Type": "application/json"})[1]


NDJSON = b'{"id":"1","v":1}\n{"id":"2","v":2}\n'


def test_accepts_gzip_ndjson_and_stores_it(collector, tmp_path):
    status, doc, _ = ingest(collector, NDJSON, path="modelobs/evaluations?env=local")
    assert (status, doc) == (200, {"ok": True, "count": 2})
    obs = get(collector, "observations?path=modelobs/evaluations")["observations"]
    assert [o["fields"] for o in obs] == [{"id": "1", "v": 1}, {"id": "2", "v": 2}]
    assert obs[0]["extra"] == {"path": "/modelobs/evaluations", "env": "local"}
    lines = (tmp_path / "observe" / "observations.jsonl").read_text().splitlines()
    assert [json.loads(x)["fields"]["id"] for x in lines] == ["1", "2"]


def test_plain_body_and_json_arrays_are_accepted(collector):
    assert ingest(collector, NDJSON, gz=False)[0] == 200
    assert ingest(collector, b'[{"id":"3"},{"id":"4"}]', ctype="application/json")[1]["count"] == 2
    assert get(collector, "count")["count"] == 4


@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_missing_or_wrong_token_is_401_and_stores_nothing(collector, token):
    status, doc, _ = ingest(collector, NDJSON, token=token)
    assert status == 401 and "token" in doc["message"]
    assert get(collector, "count")["count"] == 0


def test_401_does_not_echo_the_presented_token(collector):
    status, doc, _ = ingest(collector, NDJSON, token="my-guess-123")
    assert status == 401 and "my-guess-123" not in json.dumps(doc)


def test_malformed_ndjson_is_400_with_the_line_number(collector):
    status, doc, _ = ingest(collector, b'{"id":"1"}\n{oops\n')
    assert status == 400 and "line 2" in doc["message"]
    assert get(collector, "count")["count"] == 0  # all or nothing


@pytest.mark.parametrize(
    "body, words", [(b"[1]\n", "line 1 must be a JSON object"), (b"\n\n", "no observations"), (b"\xff\xfe\n", "line 1")]
)
def test_other_bad_bodies_are_400(collector, body, words):
    status, doc, _ = ingest(collector, body)
    assert status == 400 and words in doc["message"]


def test_bad_gzip_is_400(collector):
    status, doc, _ = post(
        f"{collector.url}/v1/http/x",
        b"not gzip",
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
    )
    assert status == 400 and "gzip" in doc["message"]


def test_size_limits_are_413(collector):
    big_line = json.dumps({"id": "1", "m": "x" * 600}).encode() + b"\n"
    status, doc, _ = ingest(collector, big_line)
    assert status == 413 and "observation" in doc["message"]
    compressed_too_big = os.urandom(5000)
    status, doc, _ = ingest(collector, compressed_too_big, gz=False)
    assert status == 413 and "limit is 4096" in doc["message"]
    bomb = b"\n".join([b'{"id":"1"}'] * 1000)  # compresses tiny, decompresses past 8192
    status, doc, _ = ingest(collector, bomb)
    assert status == 413 and "decompresses" in doc["message"]


def test_unsupported_content_type_is_415(collector):
    assert ingest(collector, b"hello", ctype="text/plain")[0] == 415


def test_fault_answers_the_next_n_requests_then_clears(collector):
    fault = admin(collector, "fault", {"mode": "down", "status": 503, "count": 2, "retry_after": 1})
    assert fault["fault"]["count"] == 2
    first = ingest(collector, NDJSON)
    assert first[0] == 503 and first[2]["Retry-After"] == "1"
    assert ingest(collector, NDJSON)[0] == 503
    assert ingest(collector, NDJSON)[0] == 200
    assert [r["status"] for r in get(collector, "requests")["requests"]] == [503, 503, 200]


def test_fault_until_cleared(collector):
    admin(collector, "fault", {"mode": "down", "status": 500})
    assert [ingest(collector, NDJSON)[0] for _ in range(3)] == [500, 500, 500]
    admin(collector, "fault", {"mode": "ok"})
    assert ingest(collector, NDJSON)[0] == 200


@pytest.mark.parametrize("doc", [{"mode": "sideways"}, {"mode": "down", "status": 200}, {"mode": "down", "count": 0}])
def test_bad_fault_requests_are_refused(collector, doc):
    status, body, _ = post(f"{collector.url}/_collector/fault", json.dumps(doc).encode(), {})
    assert status == 400


def test_reset_forgets_everything(collector, tmp_path):
    ingest(collector, NDJSON)
    admin(collector, "fault", {"mode": "down"})
    assert admin(collector, "reset", {}) == {"ok": True}
    assert get(collector, "count")["count"] == 0
    assert get(collector, "requests")["requests"] == []
    assert ingest(collector, NDJSON)[0] == 200
    assert len((tmp_path / "observe" / "observations.jsonl").read_text().splitlines()) == 2


def test_count_reports_duplicates_by_record_id(collector):
    ingest(collector, NDJSON)
    ingest(collector, b'{"id":"1","v":1}\n')
    assert get(collector, "count?path=/modelobs/evaluations/") == {
        "path": "/modelobs/evaluations", "count": 3, "distinct_ids": 2, "duplicates": 1,
    }
    assert get(collector, "count?path=other")["count"] == 0


def test_observations_since_and_limit(collector):
    ingest(collector, b"".join(b'{"id":"%d"}\n' % i for i in range(5)))
    got = get(collector, "observations?since=2&limit=2")["observations"]
    assert [o["fields"]["id"] for o in got] == ["2", "3"]


def test_state_survives_a_restart_unless_fresh(tmp_path):
    state = tmp_path / "observe"
    first = serve_in_thread(TOKEN, state_dir=state)
    ingest(first, NDJSON)
    first.close()
    again = serve_in_thread(TOKEN, state_dir=state)
    try:
        assert get(again, "count")["count"] == 2
    finally:
        again.close()
    fresh = serve_in_thread(TOKEN, state_dir=state, fresh=True)
    try:
        assert get(fresh, "count")["count"] == 0
    finally:
        fresh.close()


def test_unknown_endpoints_are_404(collector):
    assert post(f"{collector.url}/v2/otel", b"{}", {})[0] == 404
    with pytest.raises(urllib.error.HTTPError) as err:
        get(collector, "nothing")
    assert err.value.code == 404


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ctl(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "observe_collector", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "local"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_start_stop_with_a_pid_file_leaves_nothing_running(tmp_path):
    state = tmp_path / "observe"
    port = str(free_port())
    started = run_ctl("start", "--port", port, "--state-dir", str(state))
    pid = None
    try:
        assert started.returncode == 0, started.stderr
        info = json.loads((state / "collector.pid.json").read_text())
        pid = info["pid"]
        assert info["url"] == f"http://127.0.0.1:{port}"
        assert run_ctl("start", "--port", port, "--state-dir", str(state)).stdout.startswith("observe collector already running")
        # The token went through the environment, not the command line (where `ps` shows it).
        assert LOCAL_TOKEN.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        status, _, _ = post(
            f"http://127.0.0.1:{port}/v1/http/x",
            NDJSON,
            {"Authorization": f"Bearer {LOCAL_TOKEN}", "Content-Type": "application/x-ndjson"},
        )
        assert status == 200
        assert run_ctl("status", "--state-dir", str(state)).returncode == 0
    finally:
        stopped = run_ctl("stop", "--state-dir", str(state))
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not (state / "collector.pid.json").exists()
    deadline = time.monotonic() + 5
    while pid and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid and not Path(f"/proc/{pid}").exists()
    assert run_ctl("status", "--state-dir", str(state)).returncode == 3
    assert run_ctl("stop", "--state-dir", str(state)).returncode == 0  # idempotent


def test_start_refuses_a_port_someone_else_holds(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        result = run_ctl("start", "--port", port, "--state-dir", str(tmp_path / "observe"))
    assert result.returncode == 1 and "in use" in result.stderr


def test_stop_ignores_a_stale_pid_file_pointing_at_another_process(tmp_path):
    state = tmp_path / "observe"
    state.mkdir()
    (state / "collector.pid.json").write_text(json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:1"}))
    result = run_ctl("stop", "--state-dir", str(state))
    assert result.returncode == 0 and "already gone" in result.stdout  # and we are still alive
