"""The creation worker's entry: one idempotent call per chunk message.

The persistence layer, its config and the idempotent function are made once, here; the handler registers each
invocation's context on `idempotency_config` (an in-progress record then expires with the invocation). This module
loads Powertools' idempotency (and boto3 under it), so the handler imports it with its first batch.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from intake.bulk.creation import process_chunk
from intake.bulk.events import CreationMessage, CreationRecord
from intake.dal.idempotency import SettingsPersistenceLayer

persistence = SettingsPersistenceLayer()
idempotency_config = IdempotencyConfig(event_key_jmespath="[uploadId, chunk, start]", expires_after_seconds=24 * 3600)


@idempotent_function(data_keyword_argument="message", persistence_store=persistence, config=idempotency_config)
def create_chunk_once(message: CreationMessage, remaining_ms: Callable[[], int]) -> dict:
    """Process one chunk message once: a redelivered message that already finished does nothing."""
    process_chunk(message.uploadId, message.chunk, message.start, remaining_ms)
    return {"uploadId": message.uploadId, "chunk": message.chunk, "start": message.start}


def handle_creation_record(record: CreationRecord, lambda_context: LambdaContext) -> None:
    """The batch's record handler: the chunk of one creation queue record, within the invocation's time."""
    message, remaining_ms = record.body, lambda_context.get_remaining_time_in_millis
    create_chunk_once(message=message, remaining_ms=remaining_ms)
