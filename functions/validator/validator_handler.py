"""SQS (S3 object-created events on incoming/) → validate each file; failed records are retried, then go to the DLQ."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from intake.bulk.events import ObjectEventRecord
from intake.observability import logger, metrics, snapshotting, tracer

# A body that is not an S3 notification fails its record (model validation): retried, then dead-lettered.
processor = BatchProcessor(event_type=EventType.SQS, model=ObjectEventRecord)

if snapshotting():
    # what the first file would load goes into the snapshot (no client or connection is made by it)
    import intake.bulk.arrivals  # noqa: F401


def record_handler(record: ObjectEventRecord) -> None:
    # the reader, checker, planner, DAL and PynamoDB load with the first file, not at import (cold start)
    from intake.bulk.arrivals import validate_object

    for key, etag, put in record.body.created_objects():
        validate_object(key, etag, put)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
