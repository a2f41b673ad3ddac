"""Dead letters: a creation chunk fails its upload, an object event fails each object's upload, anything else is
counted and logged by size only; every dead letter is a success of the batch (nothing is retried from a DLQ)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from intake.bulk import deadletters
from intake.bulk.events import DeadLetterRecord
from intake.observability import metrics
from tests.conftest import FakeLambdaContext, load_event
from tests.log_capture import cloudwatch_lines

UPLOAD_ID = "3f2a9c1e7b5d4e6f8a0b1c2d3e4f5a6b"
KEY = "incoming/fac-oak/3f2a9c1e7b5d4e6f8a0b1c2d3e4f5a6b"
ETAG = "b21b84d653bb07b05b1e6b33684dc11b"


@pytest.fixture
def failed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The uploads the dead letters failed: ("creation", upload) or ("object", key, etag)."""
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(deadletters, "fail_creation", lambda upload_id: calls.append(("creation", upload_id)))
    monkeypatch.setattr(deadletters, "fail_unvalidated", lambda key, etag, put: calls.append(("object", key, etag)))
    yield calls
    metrics.clear_metrics()


def _record(name: str, body: str | None = None, message_id: str | None = None) -> dict[str, Any]:
    record = copy.deepcopy(load_event(name))
    if body is not None:
        record["body"] = body
    if message_id is not None:
        record["messageId"] = message_id
    return record


def test_a_dead_creation_chunk_fails_its_upload(failed) -> None:
    record = DeadLetterRecord.model_validate(_record("sqs_creation_message.json"))
    assert deadletters.handle_dead_letter(record) == 1
    assert failed == [("creation", UPLOAD_ID)]


def test_a_dead_object_event_fails_each_created_objects_upload(failed) -> None:
    notification = json.loads(load_event("sqs_s3_object_created.json")["body"])
    second = copy.deepcopy(notification["Records"][0])
    second["s3"]["object"].update(key="incoming/fac-oak/other", eTag="e2")
    removed = copy.deepcopy(second)
    removed["eventName"] = "ObjectRemoved:Delete"
    notification["Records"] += [second, removed]
    record = DeadLetterRecord.model_validate(_record("sqs_s3_object_created.json", json.dumps(notification)))
    assert deadletters.handle_dead_letter(record) == 2
    assert failed == [("object", KEY, ETAG), ("object", "incoming/fac-oak/other", "e2")]


@pytest.mark.parametrize(
    "body",
    ["Records: not json at all", '{"uploadId": "", "chunk": -1, "password": "Sunrise-42"}', "[]"],
    ids=["not-json", "bad-creation-message", "json-of-neither-kind"],
)
def test_a_dead_letter_naming_no_upload_is_counted_and_logged_by_size_only(failed, body, caplog) -> None:
    # Given a dead letter that is neither a creation message nor an object event
    record = DeadLetterRecord.model_validate(_record("sqs_record.json", body))
    # When it is handled, with every log line read as CloudWatch receives it
    with cloudwatch_lines() as logged:
        assert deadletters.handle_dead_letter(record) == 0
    # Then nothing was failed, and the log line says so by the body's size, never the body
    assert failed == []
    (line,) = [line for line in logged.records if line.get("message") == "dead letter names no upload"]
    assert line["bytes"] == len(body)
    assert not logged.mentions(body) and not logged.mentions("Sunrise-42") and body not in caplog.text


def test_the_test_event_dead_lettered_names_no_upload(failed) -> None:
    record = DeadLetterRecord.model_validate(_record("sqs_s3_test_event.json"))
    assert deadletters.handle_dead_letter(record) == 0
    assert failed == []


def test_the_handler_takes_every_dead_letter_and_counts_them(failed, capsys) -> None:
    import deadletter_handler

    # Given a DLQ batch of a creation chunk, an object event and garbage
    event = {
        "Records": [
            _record("sqs_creation_message.json", message_id="a"),
            _record("sqs_s3_object_created.json", message_id="b"),
            _record("sqs_record.json", "garbage", message_id="c"),
        ]
    }
    # When the dead-letter handler takes it
    result = deadletter_handler.lambda_handler(event, FakeLambdaContext())
    # Then every record succeeded, each upload was failed, and the metrics flushed count them
    assert result == {"batchItemFailures": []}
    assert failed == [("creation", UPLOAD_ID), ("object", KEY, ETAG)]
    out = capsys.readouterr().out.replace(" ", "")
    assert '"DeadLetters":[1.0,1.0,1.0]' in out and '"UnidentifiedDeadLetters":[1.0]' in out
