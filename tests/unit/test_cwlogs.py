"""CloudWatch Logs subscription payloads: decoding, flattening, filtering."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
from modelobs import cwlogs
from modelobs.cwlogs import SubscriptionPayloadError

# What LocalStack and AWS send: compact JSON, gzip, base64; ids are digit strings.
DOC = {
    "messageType": "DATA_MESSAGE",
    "owner": "123456789012",
    "logGroup": "/aws/lambda/modelobs-evaluate",
    "logStream": "2026/01/05/[$LATEST]0123456789abcdef",
    "subscriptionFilters": ["modelobs-observe"],
    "logEvents": [
        {
            "id": "38272749822548451358234134227435271298567012542939758592",
            "timestamp": 1767600000000,
            "message": "START RequestId: 7f1c Version: $LATEST\n",
        },
        {
            "id": "38272749822548451358234134227435271298567012542939758593",
            "timestamp": 1767600000001,
            "message": json.dumps({"evaluation_id": "e1", "_aws": {"Timestamp": 1767600000001}}) + "\n",
        },
        {
            "id": "38272749822548451358234134227435271298567012542939758594",
            "timestamp": 1767600000002,
            "message": "REPORT RequestId: 7f1c Duration: 12.3 ms",
        },
    ],
}


def cloudwatch_event(doc: dict) -> dict:
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}


def test_decode_real_shaped_payload():
    data = cwlogs.decode_event(cloudwatch_event(DOC))
    assert data.message_type == "DATA_MESSAGE"
    assert data.owner == "123456789012"
    assert data.log_group == "/aws/lambda/modelobs-evaluate"
    assert data.subscription_filters == ("modelobs-observe",)
    assert [e.timestamp for e in data.log_events] == [1767600000000, 1767600000001, 1767600000002]
    assert not data.is_control


def test_flatten_copies_the_envelope_onto_every_event_like_observes_forwarder():
    records = cwlogs.records_from_event(cloudwatch_event(DOC))
    assert len(records) == 3
    assert set(records[1]) == {
        "id", "timestamp", "message", "owner", "logGroup", "logStream", "subscriptionFilters", "messageType",
    }
    assert records[1] == {
        "id": DOC["logEvents"][1]["id"],
        "timestamp": 1767600000001,
        "message": DOC["logEvents"][1]["message"],
        "owner": "123456789012",
        "logGroup": "/aws/lambda/modelobs-evaluate",
        "logStream": DOC["logStream"],
        "subscriptionFilters": ["modelobs-observe"],
        "messageType": "DATA_MESSAGE",
    }


def test_control_message_yields_nothing():
    control = {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {"id": "", "timestamp": 1767600000000, "message": "CWL CONTROL MESSAGE: Checking health of destination"}
        ][:0],
    }
    data = cwlogs.decode_event(cloudwatch_event(control))
    assert data.is_control
    assert cwlogs.flatten(data) == []


def test_control_message_with_events_still_yields_nothing():
    control = dict(DOC, messageType="CONTROL_MESSAGE")
    assert cwlogs.records_from_event(cloudwatch_event(control)) == []


def test_encode_event_round_trips():
    event = cwlogs.encode_event(DOC["logEvents"], log_group="g", log_stream="s", owner="1")
    records = cwlogs.records_from_event(event)
    assert [r["message"] for r in records] == [e["message"] for e in DOC["logEvents"]]
    assert records[0]["logGroup"] == "g"


@pytest.mark.parametrize(
    "event, words",
    [
        ({}, "awslogs.data"),
        ({"awslogs": {}}, "awslogs.data"),
        ([], "must be an object"),
        ({"awslogs": {"data": 42}}, "base64 string"),
        ({"awslogs": {"data": "not base64!!"}}, "base64"),
        ({"awslogs": {"data": base64.b64encode(b"plain, not gzip").decode()}}, "not gzip"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"{nope")).decode()}}, "JSON"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"[1]")).decode()}}, "JSON object"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"x" * 100)[:20]).decode()}}, "truncated"),
    ],
)
def test_malformed_payloads_raise_one_typed_error(event, words):
    with pytest.raises(SubscriptionPayloadError, match=words):
        cwlogs.decode_event(event)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"messageType": "OTHER"}, "messageType"),
        ({"logGroup": None}, "logGroup"),
        ({"subscriptionFilters": "f"}, "subscriptionFilters"),
        ({"logEvents": {}}, "logEvents must be a list"),
        ({"logEvents": [{"id": "1", "timestamp": "now", "message": "m"}]}, r"timestamp"),
        ({"logEvents": [{"id": "1", "timestamp": True, "message": "m"}]}, r"timestamp"),
        ({"logEvents": [{"id": "", "timestamp": 1, "message": "m"}]}, r"\.id"),
        ({"logEvents": [{"id": "1", "timestamp": 1, "message": None}]}, r"message"),
        ({"logEvents": ["x"]}, r"logEvents\[0\]"),
    ],
)
def test_malformed_documents_say_which_field(change, words):
    with pytest.raises(SubscriptionPayloadError, match=words):
        cwlogs.decode_event(cloudwatch_event({**DOC, **change}))


def test_gzip_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(cwlogs, "MAX_DECOMPRESSED_BYTES", 1000)
    with pytest.raises(SubscriptionPayloadError, match="more than 1000 bytes"):
        cwlogs.decode_event(cloudwatch_event({**DOC, "logStream": "x" * 5000}))


def test_json_filter_keeps_structured_lines_and_counts_the_rest():
    records = cwlogs.records_from_event(cloudwatch_event(DOC))
    result = cwlogs.filter_records(records)
    assert [json.loads(r["message"])["evaluation_id"] for r in result.kept] == ["e1"]
    assert result.dropped == 2
    assert result.dropped_by_group == {"/aws/lambda/modelobs-evaluate": 2}


@pytest.mark.parametrize(
    "message, keep",
    [
        ('{"a": 1}', True),
        ('  {"a": 1}\n', True),
        ("{not json}", False),
        ("[1, 2]", False),
        ('"{}"', False),
        ("[INFO] 2026-01-05 hello", False),
        ("END RequestId: 1", False),
        ("", False),
    ],
)
def test_is_json_object(message, keep):
    assert cwlogs.is_json_object({"message": message}) is keep


def test_custom_predicate():
    records = cwlogs.records_from_event(cloudwatch_event(DOC))
    assert cwlogs.filter_records(records, cwlogs.keep_all).dropped == 0
    only_reports = cwlogs.filter_records(records, lambda r: r["message"].startswith("REPORT"))
    assert len(only_reports.kept) == 1 and only_reports.dropped == 2


def test_json_with_keys_keeps_only_lines_carrying_them():
    records = cwlogs.records_from_event(cloudwatch_event(DOC))
    records.append({**records[1], "message": '{"level": "INFO", "message": "loaded"}'})
    kept = cwlogs.filter_records(records, cwlogs.json_with_keys("evaluation_id", "_aws"))
    assert [json.loads(r["message"])["evaluation_id"] for r in kept.kept] == ["e1"]
    assert kept.dropped == 3
