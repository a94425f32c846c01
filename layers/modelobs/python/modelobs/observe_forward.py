"""Forward records to Observe without losing any, and replay what could not be sent.

:func:`forward` batches records, sends each batch with the client's retries,
and writes every batch that still failed to the failure store. It raises only
if the failure store itself fails: then the handler should fail the
invocation, so Lambda's own retry (and its on-failure destination) keeps the
event. Batches already delivered are sent again on that retry; the record ids
let Observe deduplicate them.

:func:`replay` re-sends each stored failure and deletes it only after Observe
accepted every record in it, so after an outage each record is delivered once
by the replay (plus, at worst, once more if the delete itself failed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .observe import DEADLINE, ObserveClient
from .observe_batch import make_batches
from .observe_failures import FailedBatch, FailureStore, FailureStoreError

log = logging.getLogger("modelobs.observe")

#: Reason stored for a record that exceeds the per-observation limit; replay keeps it until the limit allows it.
RECORD_TOO_LARGE = "record_too_large"


@dataclass
class ForwardReport:
    """What one :func:`forward` call did; ``to_dict`` is meant for one structured log line."""

    records: int = 0
    delivered_records: int = 0
    delivered_batches: int = 0
    failed_records: int = 0
    failed_batches: int = 0
    attempts: int = 0
    failure_keys: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failed_records == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "delivered_records": self.delivered_records,
            "delivered_batches": self.delivered_batches,
            "failed_records": self.failed_records,
            "failed_batches": self.failed_batches,
            "attempts": self.attempts,
            "failure_keys": list(self.failure_keys),
            "reasons": dict(self.reasons),
        }

    def _failed(self, key: str, failure: FailedBatch) -> None:
        self.failed_records += len(failure.records)
        self.failed_batches += 1
        self.failure_keys.append(key)
        self.reasons[failure.reason] = self.reasons.get(failure.reason, 0) + 1


def forward(
    records: Iterable[Any],
    client: ObserveClient,
    store: FailureStore,
    *,
    path: str | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ForwardReport:
    """Send ``records`` to Observe ``path`` (default: the client's); store what fails.

    ``deadline`` is a ``time.monotonic()`` value (see
    :func:`modelobs.observe.deadline_from_context`); batches not yet tried when
    it passes are stored with reason ``deadline`` without an attempt.
    """
    records = list(records)
    target = path or client.config.path
    report = ForwardReport(records=len(records))
    batches, oversized = make_batches(records, client.config.limits)
    for item in oversized:
        failure = FailedBatch(
            batch_id=_oversized_id(item.record),
            path=target,
            records=[item.record],
            reason=RECORD_TOO_LARGE,
            status=None,
            attempts=0,
            detail=f"{item.size} bytes as one NDJSON line; the limit is {client.config.limits.max_record_bytes}",
        )
        report._failed(store.put(failure), failure)
        log.error("observe: a %d-byte record is over the observation limit; stored for review", item.size)
    for batch in batches:
        if deadline is not None and clock() >= deadline:
            parts = [(batch, None)]
        else:
            parts = client.deliver(batch, path=target, deadline=deadline)
        for part, delivery in parts:
            if delivery is not None:
                report.attempts += delivery.attempts
            if delivery is not None and delivery.ok:
                report.delivered_records += len(part)
                report.delivered_batches += 1
                continue
            failure = FailedBatch(
                batch_id=part.id,
                path=target,
                records=list(part.records),
                reason=delivery.reason if delivery else DEADLINE,
                status=delivery.status if delivery else None,
                attempts=delivery.attempts if delivery else 0,
                detail=delivery.detail if delivery else "the invocation's deadline passed before this batch was tried",
            )
            key = store.put(failure)
            report._failed(key, failure)
            log.error(
                "observe: %d records not delivered (%s, status %s, %d attempts); stored as %s",
                len(part),
                failure.reason,
                failure.status,
                failure.attempts,
                key,
            )
    return report


def _oversized_id(record: Any) -> str:
    from .observe_batch import batch_of

    return "oversized-" + batch_of([record]).id


@dataclass
class ReplayReport:
    failures: int = 0
    delivered: int = 0  # failures fully delivered and deleted
    delivered_records: int = 0
    still_failing: int = 0
    unreadable: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.still_failing == 0 and not self.unreadable

    def to_dict(self) -> dict[str, Any]:
        return {
            "failures": self.failures,
            "delivered": self.delivered,
            "delivered_records": self.delivered_records,
            "still_failing": self.still_failing,
            "unreadable": list(self.unreadable),
            "kept": list(self.kept),
        }


def replay(
    store: FailureStore,
    client: ObserveClient,
    *,
    path: str | None = None,
    deadline: float | None = None,
    limit: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ReplayReport:
    """Re-send every stored failure (oldest day first); delete each only after all its records were accepted.

    ``path`` overrides the stored Observe path (e.g. to send into a test
    datastream). A failure that fails again stays under the same key with
    ``replays`` + 1, the new reason and only the records still undelivered, so
    a partly successful replay never sends the delivered part again.
    """
    report = ReplayReport()
    for key in list(store.keys()):
        if limit is not None and report.failures >= limit:
            break
        if deadline is not None and clock() >= deadline:
            break
        report.failures += 1
        try:
            failure = store.get(key)
        except FailureStoreError as exc:
            log.error("observe replay: cannot read %s: %s", key, exc)
            report.unreadable.append(key)
            continue
        target = path or failure.path
        batches, oversized = make_batches(failure.records, client.config.limits)
        left: list[Any] = [o.record for o in oversized]
        attempts, reason, status, detail = failure.attempts, RECORD_TOO_LARGE if oversized else "", None, ""
        sent = 0
        for batch in batches:
            for part, delivery in client.deliver(batch, path=target, deadline=deadline):
                attempts += delivery.attempts
                if delivery.ok:
                    sent += len(part)
                else:
                    left.extend(part.records)
                    reason, status, detail = delivery.reason, delivery.status, delivery.detail
        report.delivered_records += sent
        if not left:
            store.delete(key)
            report.delivered += 1
            log.info("observe replay: %s delivered (%d records) and deleted", key, sent)
            continue
        store.put(
            failure.evolve(
                records=left,
                reason=reason or failure.reason,
                status=status,
                attempts=attempts,
                detail=detail or failure.detail,
                replays=failure.replays + 1,
            ),
            key=key,
        )
        report.still_failing += 1
        report.kept.append(key)
        log.error("observe replay: %s still failing (%s); %d records kept", key, reason, len(left))
    return report


def replay_s3(s3: Any, bucket: str, client: ObserveClient, **kwargs: Any) -> ReplayReport:
    """:func:`replay` over the S3 store at the default prefix: what ``modelobs replay observe`` calls."""
    from .observe_failures import S3FailureStore

    return replay(S3FailureStore(s3, bucket), client, **kwargs)
