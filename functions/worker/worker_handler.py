"""SQS (creation chunks sent by confirm) → create or move each chunk's learners exactly once."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from intake.bulk.events import CreationRecord
from intake.observability import logger, metrics, snapshotting, tracer

# A body that is not a creation message fails its record (model validation): retried, then dead-lettered.
processor = BatchProcessor(event_type=EventType.SQS, model=CreationRecord)

if snapshotting():
    # what the first chunk would load goes into the snapshot (its SDK clients are still made on first use)
    import intake.bulk.worker  # noqa: F401


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    from intake.bulk import worker  # idempotency and boto3 load with the first batch, not at import (cold start)

    worker.idempotency_config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=worker.handle_creation_record, processor=processor, context=context
    )
