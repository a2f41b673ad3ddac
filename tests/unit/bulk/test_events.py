"""The bulk path's SQS records, parsed at the boundary: S3 notifications (Powertools' models, as AWS and moto send
them, and s3:TestEvent), creation messages, dead letters of either kind; a malformed body is a failed record of the
batch whose errors never quote it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from pydantic import ValidationError

from intake.bulk.events import CreationMessage, CreationRecord, DeadLetterRecord, ObjectEventRecord, S3Notification
from tests.conftest import FakeLambdaContext, load_event

KEY = "incoming/fac-oak/3f2a9c1e7b5d4e6f8a0b1c2d3e4f5a6b"
ETAG = "b21b84d653bb07b05b1e6b33684dc11b"
# The PUT's identity, the same in every delivery of its event: S3's sequencer and the event's time (moto: no sequencer)
PUT = "0C0F6F405D6ED209E1@2026-11-30T09:15:02.123000+00:00"
MOTO_PUT = "@2026-11-30T09:15:02.123000+00:00"


def _with_body(name: str, body: Any, message_id: str | None = None) -> dict[str, Any]:
    record = load_event(name)
    record["body"] = body if isinstance(body, str) else json.dumps(body)
    if message_id:
        record["messageId"] = message_id
    return record


def _notification() -> dict[str, Any]:
    return json.loads(load_event("sqs_s3_object_created.json")["body"])


def _as_moto_sends_it(notification: dict[str, Any]) -> dict[str, Any]:
    """moto's records lack what only AWS knows: who asked, from where, and the bucket's owner."""
    moto = copy.deepcopy(notification)
    for record in moto["Records"]:
        for name in ("userIdentity", "requestParameters", "responseElements"):
            del record[name]
        del record["s3"]["bucket"]["ownerIdentity"]
        del record["s3"]["object"]["sequencer"]
    return moto


def test_an_s3_notification_as_aws_sends_it_names_its_created_object() -> None:
    # Given the SQS record of an object-created notification, as S3 sends it to the validation queue
    record = ObjectEventRecord.model_validate(load_event("sqs_s3_object_created.json"))
    # Then its body is the notification, and the created object is its key, ETag and PUT
    assert isinstance(record.body, S3Notification)
    assert record.body.created_objects() == [(KEY, ETAG, PUT)]
    assert record.messageId == "5d2b8f0e-0c1a-4b7e-9f3d-6a1e2c3b4d5e"


def test_an_s3_notification_as_moto_sends_it_parses_too() -> None:
    # Given the same notification without the fields moto leaves out, and its key URL-encoded as S3 sends it
    moto = _as_moto_sends_it(_notification())
    moto["Records"][0]["s3"]["object"]["key"] = "incoming%2Ffac-oak%2Fa+b.csv"
    # When it is parsed
    record = ObjectEventRecord.model_validate(_with_body("sqs_s3_object_created.json", moto))
    # Then it names its object, the key as sent (validate_object decodes it)
    assert record.body.created_objects() == [("incoming%2Ffac-oak%2Fa+b.csv", ETAG, MOTO_PUT)]


def test_the_test_event_and_other_event_kinds_name_no_object() -> None:
    # Given the s3:TestEvent S3 sends when a notification is saved, and a notification of a removed object
    test_event = ObjectEventRecord.model_validate(load_event("sqs_s3_test_event.json"))
    removed = _notification()
    removed["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    removal = ObjectEventRecord.model_validate(_with_body("sqs_s3_object_created.json", removed))
    # Then neither names an object to validate
    assert test_event.body.Event == "s3:TestEvent"
    assert test_event.body.created_objects() == []
    assert removal.body.created_objects() == []


def test_an_object_without_etag_is_read_unconditionally() -> None:
    # Given a created object's record without an ETag
    notification = _as_moto_sends_it(_notification())
    del notification["Records"][0]["s3"]["object"]["eTag"]
    # Then it still names its object, with an empty ETag (no If-Match on the read)
    record = ObjectEventRecord.model_validate(_with_body("sqs_s3_object_created.json", notification))
    assert record.body.created_objects() == [(KEY, "", MOTO_PUT)]


MALFORMED_NOTIFICATIONS = [
    "Records: not json at all",
    '{"Records": [{"eventName": "ObjectCreated:Put"}]}',
    '{"Records": ["incoming/fac-oak/secret.csv"]}',
    '["incoming/fac-oak/secret.csv"]',
]


@pytest.mark.parametrize("body", MALFORMED_NOTIFICATIONS)
def test_a_malformed_notification_fails_validation_without_quoting_it(body: str) -> None:
    # When a body that is no S3 notification is parsed
    with pytest.raises(ValidationError) as raised:
        ObjectEventRecord.model_validate(_with_body("sqs_s3_object_created.json", body))
    # Then the error is the record model's (the batch processor's sign of a poison record) and does not quote it
    assert raised.value.title == "ObjectEventRecord"
    assert body not in str(raised.value)
    assert "secret" not in str(raised.value) and "not json at all" not in str(raised.value)


def test_a_record_with_an_empty_key_is_malformed() -> None:
    notification = _notification()
    notification["Records"][0]["s3"]["object"]["key"] = ""
    with pytest.raises(ValidationError):
        ObjectEventRecord.model_validate(_with_body("sqs_s3_object_created.json", notification))


def test_a_creation_record_carries_its_chunk_and_the_sent_form_parses_back() -> None:
    # Given the SQS record of a creation message
    record = CreationRecord.model_validate(load_event("sqs_creation_message.json"))
    # Then its body is the chunk, and the JSON a sender writes for it is compact and parses to the same message
    assert record.body == CreationMessage(uploadId="3f2a9c1e7b5d4e6f8a0b1c2d3e4f5a6b", chunk=2, start=0)
    sent = record.body.model_dump_json()
    assert sent == '{"uploadId":"3f2a9c1e7b5d4e6f8a0b1c2d3e4f5a6b","chunk":2,"start":0}'
    assert CreationMessage.model_validate_json(sent) == record.body
    assert CreationMessage(uploadId="u1", chunk=0).start == 0


@pytest.mark.parametrize(
    "body",
    [
        '{"uploadId": "", "chunk": -1}',
        '{"uploadId": "u1", "chunk": 0, "start": -5}',
        '{"uploadId": "u1", "chunk": 0, "password": "Sunrise-42"}',
        '{"chunk": 0}',
        "not json",
    ],
)
def test_a_malformed_creation_message_fails_validation_without_quoting_it(body: str) -> None:
    with pytest.raises(ValidationError) as raised:
        CreationRecord.model_validate(_with_body("sqs_creation_message.json", body))
    assert raised.value.title == "CreationRecord"
    assert body not in str(raised.value) and "Sunrise-42" not in str(raised.value)


def test_a_dead_letter_is_a_creation_message_an_s3_notification_or_neither() -> None:
    creation = DeadLetterRecord.model_validate(load_event("sqs_creation_message.json"))
    notification = DeadLetterRecord.model_validate(load_event("sqs_s3_object_created.json"))
    garbage = DeadLetterRecord.model_validate(_with_body("sqs_record.json", "Records: not json at all"))
    assert creation.message() == CreationMessage(uploadId="3f2a9c1e7b5d4e6f8a0b1c2d3e4f5a6b", chunk=2)
    assert isinstance(notification.message(), S3Notification)
    assert notification.message().created_objects() == [(KEY, ETAG, PUT)]  # type: ignore[union-attr]
    assert garbage.message() is None
    assert garbage.body == "Records: not json at all"


def test_a_dead_letter_json_object_of_neither_kind_is_a_notification_of_no_object() -> None:
    # A malformed creation message is still a JSON object: as before, it names no upload
    record = DeadLetterRecord.model_validate(_with_body("sqs_record.json", '{"uploadId": "", "chunk": -1}'))
    message = record.message()
    assert isinstance(message, S3Notification) and message.created_objects() == []


def test_the_batch_processor_fails_a_malformed_record_alone() -> None:
    # Given a batch of a good notification, a test event and a malformed body, through BatchProcessor(model=...)
    processor = BatchProcessor(event_type=EventType.SQS, model=ObjectEventRecord)
    event = {
        "Records": [
            load_event("sqs_s3_object_created.json"),
            load_event("sqs_s3_test_event.json"),
            _with_body("sqs_s3_object_created.json", "Records: not json at all", message_id="poison"),
        ]
    }
    seen: list[tuple[str, str, str]] = []

    def record_handler(record: ObjectEventRecord) -> None:
        seen.extend(record.body.created_objects())

    # When it is processed
    result = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=FakeLambdaContext()
    )
    # Then only the malformed record failed, and the handler saw the good ones parsed
    assert result == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert seen == [(KEY, ETAG, PUT)]
