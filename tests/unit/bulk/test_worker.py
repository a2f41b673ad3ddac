"""The creation worker: one idempotent call per chunk message, configured once at import and bound on first use;
each record gets the invocation's context from the batch processor."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from intake.bulk import worker
from intake.domain import CreationMessage
from tests.conftest import FakeLambdaContext, load_event

UPLOAD_ID = "3f2a9c1e7b5d4e6f8a0b1c2d3e4f5a6b"


@pytest.fixture
def chunks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int, int]]:
    """What process_chunk was asked to do: (upload, chunk, start, the remaining time it was given)."""
    calls: list[tuple[str, int, int, int]] = []

    def process_chunk(upload_id: str, chunk: int, start: int, remaining_ms: Callable[[], int]) -> None:
        calls.append((upload_id, chunk, start, remaining_ms()))

    monkeypatch.setattr(worker, "process_chunk", process_chunk)
    return calls


def _event(*bodies: str) -> dict[str, Any]:
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(load_event("sqs_creation_message.json"))
        record.update(messageId=f"m{index}", body=body)
        records.append(record)
    return {"Records": records}


def _body(chunk: int, start: int = 0) -> str:
    return json.dumps({"uploadId": UPLOAD_ID, "chunk": chunk, "start": start})


def test_the_persistence_layer_reads_no_settings_and_makes_no_client_until_its_first_call(aws, chunks) -> None:
    # Given the worker's persistence layer, made at import, forgotten (as at import) by the fixture
    assert not hasattr(worker.persistence, "client")
    assert not hasattr(worker.persistence, "table_name")
    # When a chunk message is handled
    import worker_handler

    worker_handler.lambda_handler(_event(_body(0)), FakeLambdaContext())
    # Then it was bound then, to the settings' table
    assert worker.persistence.table_name == os.environ["IDEMPOTENCY_TABLE"]
    assert chunks == [(UPLOAD_ID, 0, 0, 120_000)]


def test_a_redelivered_chunk_that_finished_is_not_processed_again(aws, chunks) -> None:
    import worker_handler

    # Given a chunk message handled once
    assert worker_handler.lambda_handler(_event(_body(1)), FakeLambdaContext()) == {"batchItemFailures": []}
    # When the same message comes again, and then the same chunk from another start
    assert worker_handler.lambda_handler(_event(_body(1)), FakeLambdaContext()) == {"batchItemFailures": []}
    assert worker_handler.lambda_handler(_event(_body(1, 50)), FakeLambdaContext()) == {"batchItemFailures": []}
    # Then the redelivery did nothing; the hand-back (another start) is other work
    assert chunks == [(UPLOAD_ID, 1, 0, 120_000), (UPLOAD_ID, 1, 50, 120_000)]


def test_each_record_gets_the_invocations_context_and_the_config_holds_it(aws, chunks) -> None:
    import worker_handler

    # Given an invocation with 40 s left
    context = FakeLambdaContext(remaining_ms=40_000, aws_request_id="second-invocation")
    # When it handles two chunks
    worker_handler.lambda_handler(_event(_body(2), _body(3)), context)
    # Then each chunk ran on that invocation's time, and in-progress records expire with that invocation
    assert chunks == [(UPLOAD_ID, 2, 0, 40_000), (UPLOAD_ID, 3, 0, 40_000)]
    assert worker.idempotency_config.lambda_context is context


def test_a_malformed_message_fails_alone_and_is_not_processed(aws, chunks) -> None:
    import worker_handler

    # Given a batch of a good chunk message and a malformed one
    event = _event(_body(4), '{"uploadId": "", "chunk": -1}')
    # When it is handled
    result = worker_handler.lambda_handler(event, FakeLambdaContext())
    # Then only the malformed record failed (retried, then dead-lettered); the good one was processed
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert chunks == [(UPLOAD_ID, 4, 0, 120_000)]


def test_the_idempotency_key_is_the_chunk_and_its_start() -> None:
    # The config is made once, at import; its key names the chunk's upload, chunk and start
    assert worker.idempotency_config.event_key_jmespath == "[uploadId, chunk, start]"
    assert worker.idempotency_config.expires_after_seconds == 24 * 3600
    message = CreationMessage(uploadId=UPLOAD_ID, chunk=0)
    assert message.model_dump() == {"uploadId": UPLOAD_ID, "chunk": 0, "start": 0}
