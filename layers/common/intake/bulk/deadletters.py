"""Dead-lettered messages: the upload each one belongs to ends FAILED with a reason staff can read."""

from __future__ import annotations

from intake.bulk.arrivals import fail_unvalidated
from intake.bulk.creation import fail_creation
from intake.bulk.events import MalformedMessage, creation_message, object_created_records
from intake.observability import logger, metrics


def handle_dead_letter(body: str) -> int:
    """Fail the upload a dead-lettered creation chunk or object event belongs to; how many uploads it named."""
    metrics.add_metric(name="DeadLetters", unit="Count", value=1)
    try:
        message = creation_message(body)
    except MalformedMessage:
        pass
    else:
        fail_creation(message.uploadId)
        return 1
    try:
        records = object_created_records(body)
    except MalformedMessage:
        records = []
    for key, etag in records:
        fail_unvalidated(key, etag)
    if not records:
        # Nothing to mark: the message stays readable in the logs by size only (it may hold anything).
        logger.error("dead letter names no upload", extra={"bytes": len(body)})
        metrics.add_metric(name="UnidentifiedDeadLetters", unit="Count", value=1)
    return len(records)
