"""SQS (a DLQ: messages that failed maxReceiveCount times) → mark the upload each names FAILED, count it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from intake.bulk.deadletters import handle_dead_letter
from intake.bulk.events import DeadLetterRecord
from intake.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, model=DeadLetterRecord)


def record_handler(record: DeadLetterRecord) -> None:
    handle_dead_letter(record)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
