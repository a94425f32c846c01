"""CloudWatch Logs subscription payloads: decode them and flatten them into records.

A subscription delivers ``{"awslogs": {"data": base64(gzip(json))}}`` where the
JSON holds one log stream's events plus where they came from. Observe's own AWS
forwarder sends one observation per log event with the envelope copied onto it
(``id, timestamp, message, owner, logGroup, logStream, subscriptionFilters,
messageType``); we produce the same shape so datasets built for Observe's
forwarder work on ours unchanged.

Community LocalStack ignores subscription filter patterns, so the forwarder
also receives Lambda's START/END/REPORT lines and any plain-text output.
:func:`filter_records` applies a predicate (:func:`is_json_object` by default)
and *counts* what it drops, so nothing disappears unaccounted for.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"
MESSAGE_TYPES = (DATA_MESSAGE, CONTROL_MESSAGE)

#: A gzip bomb in a subscription payload should fail, not exhaust Lambda memory.
#: CloudWatch caps a delivery at 1 MB of events before compression; 16 MB is generous.
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024

Record = dict[str, Any]
RecordFilter = Callable[[Record], bool]


class SubscriptionPayloadError(ValueError):
    """The event is not a CloudWatch Logs subscription payload; the message says which part is wrong.

    Raised instead of a bare KeyError/binascii.Error/JSONDecodeError so the
    handler can catch one type, log it, and fail the invocation (Lambda's async
    retry, then its on-failure destination, keep the event) rather than
    forwarding half a batch.
    """


@dataclass(frozen=True)
class LogEvent:
    id: str
    timestamp: int  # milliseconds since the epoch, as CloudWatch sends it
    message: str


@dataclass(frozen=True)
class LogsData:
    """One decoded subscription delivery: the envelope and its events."""

    message_type: str
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    log_events: tuple[LogEvent, ...] = field(default_factory=tuple)

    @property
    def is_control(self) -> bool:
        """CloudWatch sends a CONTROL_MESSAGE to check the destination is reachable; it carries no logs."""
        return self.message_type == CONTROL_MESSAGE


def decode_event(event: Mapping[str, Any]) -> LogsData:
    """Decode the Lambda event CloudWatch Logs sends to a subscribed function."""
    if not isinstance(event, Mapping):
        raise SubscriptionPayloadError(f"event must be an object, got {type(event).__name__}")
    awslogs = event.get("awslogs")
    if not isinstance(awslogs, Mapping) or "data" not in awslogs:
        raise SubscriptionPayloadError("event has no awslogs.data: not a CloudWatch Logs subscription event")
    return decode_data(awslogs["data"])


def decode_data(data: str | bytes) -> LogsData:
    """Decode ``awslogs.data`` (base64 of gzip of JSON) into :class:`LogsData`."""
    if not isinstance(data, (str, bytes)):
        raise SubscriptionPayloadError(f"awslogs.data must be a base64 string, got {type(data).__name__}")
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SubscriptionPayloadError(f"awslogs.data is not valid base64: {exc}") from None
    raw = _gunzip(compressed)
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubscriptionPayloadError(f"awslogs.data does not hold JSON: {exc}") from None
    return parse_logs_data(doc)


def _gunzip(compressed: bytes) -> bytes:
    # zlib with wbits=16+MAX_WBITS reads the gzip container and lets us cap the output.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(compressed, MAX_DECOMPRESSED_BYTES)
    except zlib.error as exc:
        raise SubscriptionPayloadError(f"awslogs.data is not gzip: {exc}") from None
    if inflater.unconsumed_tail:
        raise SubscriptionPayloadError(
            f"awslogs.data decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes"
        )
    if not inflater.eof:
        raise SubscriptionPayloadError("awslogs.data is a truncated gzip stream")
    return raw


def parse_logs_data(doc: Any) -> LogsData:
    """Validate the decoded JSON document and build :class:`LogsData`."""
    if not isinstance(doc, Mapping):
        raise SubscriptionPayloadError("awslogs.data must decode to a JSON object")
    message_type = doc.get("messageType")
    if message_type not in MESSAGE_TYPES:
        raise SubscriptionPayloadError(f"messageType must be one of {MESSAGE_TYPES}, got {message_type!r}")
    filters = doc.get("subscriptionFilters", [])
    if not isinstance(filters, list) or not all(isinstance(f, str) for f in filters):
        raise SubscriptionPayloadError("subscriptionFilters must be a list of strings")
    envelope = {}
    for key in ("owner", "logGroup", "logStream"):
        value = doc.get(key)
        if not isinstance(value, str):
            raise SubscriptionPayloadError(f"{key} must be a string, got {type(value).__name__}")
        envelope[key] = value
    events_doc = doc.get("logEvents", [])
    if not isinstance(events_doc, list):
        raise SubscriptionPayloadError("logEvents must be a list")
    events = tuple(_parse_event(i, e) for i, e in enumerate(events_doc))
    return LogsData(
        message_type=message_type,
        owner=envelope["owner"],
        log_group=envelope["logGroup"],
        log_stream=envelope["logStream"],
        subscription_filters=tuple(filters),
        log_events=events,
    )


def _parse_event(index: int, doc: Any) -> LogEvent:
    if not isinstance(doc, Mapping):
        raise SubscriptionPayloadError(f"logEvents[{index}] must be an object")
    event_id, timestamp, message = doc.get("id"), doc.get("timestamp"), doc.get("message")
    if not isinstance(event_id, str) or not event_id:
        raise SubscriptionPayloadError(f"logEvents[{index}].id must be a non-empty string")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise SubscriptionPayloadError(f"logEvents[{index}].timestamp must be an integer (ms)")
    if not isinstance(message, str):
        raise SubscriptionPayloadError(f"logEvents[{index}].message must be a string")
    return LogEvent(id=event_id, timestamp=timestamp, message=message)


def flatten(data: LogsData) -> list[Record]:
    """One record per log event, envelope copied in, as Observe's forwarder shapes them.

    A CONTROL_MESSAGE yields no records: it is CloudWatch probing the
    destination, not log data.
    """
    if data.is_control:
        return []
    envelope = {
        "owner": data.owner,
        "logGroup": data.log_group,
        "logStream": data.log_stream,
        "subscriptionFilters": list(data.subscription_filters),
        "messageType": data.message_type,
    }
    return [
        {"id": e.id, "timestamp": e.timestamp, "message": e.message, **envelope}
        for e in data.log_events
    ]


def records_from_event(event: Mapping[str, Any]) -> list[Record]:
    """Decode a subscription event and flatten it: the handler's first step."""
    return flatten(decode_event(event))


# --- filtering ------------------------------------------------------------------------


def is_json_object(record: Record) -> bool:
    """Keep log lines that are one JSON object (structured logs, EMF); drop START/END/REPORT and prose.

    CloudWatch keeps the newline ``print`` wrote, so surrounding whitespace is ignored.
    """
    message = record.get("message")
    if not isinstance(message, str):
        return False
    text = message.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def json_with_keys(*keys: str) -> RecordFilter:
    """A filter keeping JSON-object lines that have all ``keys`` at the top level.

    E.g. ``json_with_keys("evaluation_id")`` keeps the evaluate function's one
    line per evaluation and drops its other structured logs.
    """

    def predicate(record: Record) -> bool:
        if not is_json_object(record):
            return False
        doc = json.loads(record["message"])
        return all(k in doc for k in keys)

    return predicate


def keep_all(record: Record) -> bool:
    """Forward every line (what a real subscription filter pattern of "" would deliver)."""
    return True


@dataclass
class FilterResult:
    """What a filter kept, and how many it dropped from which log group (for a metric or log line)."""

    kept: list[Record]
    dropped: int = 0
    dropped_by_group: Counter[str] = field(default_factory=Counter)


def filter_records(records: Iterable[Record], predicate: RecordFilter = is_json_object) -> FilterResult:
    """Split records by ``predicate``, counting the dropped ones per log group."""
    result = FilterResult(kept=[])
    for record in records:
        if predicate(record):
            result.kept.append(record)
        else:
            result.dropped += 1
            result.dropped_by_group[str(record.get("logGroup", ""))] += 1
    return result


# --- building payloads (tests, local tools, event fixtures) ---------------------------


def encode_data(
    log_events: Iterable[Mapping[str, Any]],
    *,
    log_group: str,
    log_stream: str,
    owner: str = "000000000000",
    subscription_filters: Iterable[str] = ("modelobs-observe",),
    message_type: str = DATA_MESSAGE,
) -> str:
    """Build ``awslogs.data`` exactly as CloudWatch does: JSON, gzip, base64.

    For tests and for local tools that replay log lines through the forwarder.
    """
    doc = {
        "messageType": message_type,
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": list(subscription_filters),
        "logEvents": [dict(e) for e in log_events],
    }
    return base64.b64encode(gzip.compress(json.dumps(doc).encode("utf-8"))).decode("ascii")


def encode_event(log_events: Iterable[Mapping[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """The whole Lambda event for :func:`encode_data`'s payload."""
    return {"awslogs": {"data": encode_data(log_events, **kwargs)}}
