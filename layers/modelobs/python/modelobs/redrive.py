"""Send events from a dead-letter queue back to their function, losing none.

A message is deleted only after the function handled its event without an
error (a synchronous invoke), so a redrive that fails part way leaves the
rest in the queue for the next try. The functions are idempotent, so an
event handled twice (a redrive racing a late retry) does no harm.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RedriveReport:
    received: int = 0
    redriven: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {"received": self.received, "redriven": self.redriven, "failed": self.failed, "errors": self.errors}


def redrive(sqs: Any, lam: Any, queue_url: str, function_name: str, max_messages: int = 1000) -> RedriveReport:
    report = RedriveReport()
    while report.received < max_messages:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(10, max_messages - report.received),
            WaitTimeSeconds=1, VisibilityTimeout=300,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            report.received += 1
            response = lam.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                  Payload=message["Body"].encode())
            payload = response["Payload"].read()
            if response.get("FunctionError"):
                report.failed += 1
                try:
                    report.errors.append(json.loads(payload).get("errorMessage", "")[:300])
                except ValueError:
                    report.errors.append(payload[:300].decode("utf-8", "replace"))
                continue  # stays in the queue (visible again after the timeout)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.redriven += 1
    return report
