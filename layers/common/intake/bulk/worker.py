"""The creation worker's entry: one idempotent call per chunk message."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.typing import LambdaContext

from intake.bulk.creation import process_chunk
from intake.bulk.events import CreationMessage, creation_message
from intake.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig


@lru_cache(maxsize=1)
def _idempotency() -> tuple[DynamoDBPersistenceLayer, IdempotencyConfig]:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    persistence = DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)
    config = IdempotencyConfig(event_key_jmespath="[uploadId, chunk, start]", expires_after_seconds=24 * 3600)
    return persistence, config


def register_context(context: LambdaContext) -> None:
    """Tie in-progress idempotency records to this invocation's deadline."""
    _idempotency()[1].register_lambda_context(context)


def handle_creation_message(body: str, remaining_ms: Callable[[], int]) -> None:
    """Process one chunk message once: a redelivered message that already finished does nothing."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    message = creation_message(body)
    persistence, config = _idempotency()

    @idempotent_function(data_keyword_argument="message", persistence_store=persistence, config=config)
    def run(message: CreationMessage) -> dict:
        process_chunk(message.uploadId, message.chunk, message.start, remaining_ms)
        return {"uploadId": message.uploadId, "chunk": message.chunk, "start": message.start}

    run(message=message)
