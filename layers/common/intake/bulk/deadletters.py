"""Dead-lettered messages: the upload each one belongs to ends FAILED with a reason staff can read."""

from __future__ import annotations

from intake.bulk.arrivals import fail_unvalidated
from intake.bulk.creation import fail_creation
from intake.bulk.events import CreationMessage, DeadLetterRecord
from intake.observability import logger, metrics


def handle_dead_letter(record: DeadLetterRecord) -> int:
    """Fail the upload a dead-lettered creation chunk or object event belongs to; how many uploads it named."""
    metrics.add_metric(name="DeadLetters", unit="Count", value=1)
    message = record.message()
    if isinstance(message, CreationMessage):
        fail_creation(message.uploadId)
        return 1
    records = message.created_objects() if message is not None else []
    for key, etag, put in records:
        fail_unvalidated(key, etag, put)
    if not records:
        # Nothing to mark: the message stays readable in the logs by size only (it may hold anything).
        logger.error("dead letter names no upload", extra={"bytes": len(record.body)})
        metrics.add_metric(name="UnidentifiedDeadLetters", unit="Count", value=1)
    return len(records)
