"""Delivery faults: S3 events duplicated, late, out of order or interleaved; SQS redelivering a batch concurrently
and after it was done. Every row must end exactly once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from tests.conftest import AGENCY_A, FAC_A1, UNIT_A1, FakeLambdaContext
from tests.integration import fault_flows
from tests.integration.bulk_helpers import csv_file, drain, keys_under, put_object, sqs_event
from tests.integration.fault_injection import Faults, install


@pytest.fixture
def faults(aws, directory, monkeypatch) -> Faults:
    monkeypatch.setenv("CREATION_CHUNK_SIZE", "5")
    from intake.settings import get_settings

    get_settings.cache_clear()
    return install(monkeypatch)


def _sqs() -> Any:
    return boto3.client("sqs", region_name="us-east-1")


def _take_all(aws: Any, queue: str) -> list[dict[str, Any]]:
    """Receive every message of a queue and delete it: the test delivers them itself, in the order it wants."""
    url, taken = aws.queue_urls[queue], []
    while True:
        got = _sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        if not got:
            return taken
        for message in got:
            _sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if "Records" in message["Body"] or queue != "ValidationQueue":
                taken.append(message)


def _deliver(aws: Any, queue: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    import validator_handler
    import worker_handler

    handler = {"ValidationQueue": validator_handler, "CreationQueue": worker_handler}[queue].lambda_handler
    return handler(sqs_event(messages, aws.queue_arns[queue]), FakeLambdaContext())


def _uploads_of(facility_id: str) -> list[Any]:
    from intake.dal import uploads

    return uploads.list_uploads(facility_id)


def test_object_event_delivered_twice_validates_once(call_api, aws, faults):
    # Given an uploaded file whose S3 event is delivered twice (two copies in one batch, then a third later)
    with faults.disarmed():
        key, flow = fault_flows.prepare(call_api, aws)
        put_object(aws, key, fault_flows.file_of(flow))
    event = _take_all(aws, "ValidationQueue")
    assert len(event) == 1
    copies = [dict(event[0], MessageId=f"copy-{i}") for i in range(2)]
    # When the validator gets both copies at once, and the same event again later
    assert _deliver(aws, "ValidationQueue", copies) == {"batchItemFailures": []}
    assert _deliver(aws, "ValidationQueue", [dict(event[0], MessageId="late")]) == {"batchItemFailures": []}
    # Then one upload was validated once, and confirming it creates every row once
    assert [u.upload_id for u in _uploads_of(FAC_A1)] == [flow.upload_id]
    assert call_api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {"moveExisting": True})[0] == 202
    drain(aws)
    fault_flows.assert_exactly_once(call_api, aws, flow)


def test_the_same_file_put_again_under_the_same_name_the_next_night_is_a_new_upload(call_api, aws, faults):
    # Given a facility's nightly job that put roster.csv, validated (its object then deleted), its event redelivered
    key = f"incoming/{FAC_A1}/roster.csv"
    data = csv_file([f"1,500001,Same,Row,01/02/1990,Learner,,{UNIT_A1}"])
    put_object(aws, key, data)
    (first_night,) = _take_all(aws, "ValidationQueue")
    for message_id in ("night-1", "night-1-again"):
        assert _deliver(aws, "ValidationQueue", [dict(first_night, MessageId=message_id)]) == {"batchItemFailures": []}
    (first,) = _uploads_of(FAC_A1)
    # When the next night the same bytes are put under the same name (the same ETag: another PUT, another event)
    put_object(aws, key, data)
    (second_night,) = _take_all(aws, "ValidationQueue")
    assert _deliver(aws, "ValidationQueue", [second_night]) == {"batchItemFailures": []}
    # Then it is an upload of its own, validated, and the first night's upload is as it was
    uploads = {u.upload_id: u for u in _uploads_of(FAC_A1)}
    assert len(uploads) == 2 and first.upload_id in uploads
    (second,) = [u for u in uploads.values() if u.upload_id != first.upload_id]
    assert (second.status.value, second.counts["rows"], second.object_etag) == ("VALIDATED", 1, first.object_etag)
    assert uploads[first.upload_id].status == first.status


@pytest.mark.parametrize("order", ["newer-event-first", "older-event-last"])
def test_event_of_a_replaced_drop_never_validates_the_newer_file(call_api, aws, faults, order):
    # Given a facility drop replaced by a corrected file before the validator ran (two events, delivered out of order)
    key = f"incoming/{FAC_A1}/roster.csv"
    put_object(aws, key, csv_file([f"1,500001,Old,Row,01/02/1990,Learner,,{UNIT_A1}"]))
    put_object(aws, key, csv_file([f"{i},60000{i},New,Row,01/02/1990,Learner,,{UNIT_A1}" for i in range(1, 4)]))
    older, newer = _take_all(aws, "ValidationQueue")
    first, second = (newer, older) if order == "newer-event-first" else (older, newer)
    # When both are delivered, and each again
    for message in (first, second, first, second):
        assert _deliver(aws, "ValidationQueue", [message]) == {"batchItemFailures": []}
    # Then only the newer file became an upload, with its own rows, and creating it makes each once
    uploads = _uploads_of(FAC_A1)
    assert len(uploads) == 1 and uploads[0].source == "drop"
    assert (uploads[0].status.value, uploads[0].counts["rows"]) == ("VALIDATED", 3)
    upload_id = uploads[0].upload_id
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED" and done["counts"]["created"] == 3
    from intake.dal.tables import LearnerItem

    assert sorted(item.docId for item in LearnerItem.query(AGENCY_A)) == ["600001", "600002", "600003"]
    assert keys_under(aws, "incoming/") == []


def test_events_of_two_uploads_interleaved_and_duplicated(call_api, aws, faults):
    # Given two uploads whose events arrive interleaved, each twice, in one batch
    with faults.disarmed():
        key_a, flow_a = fault_flows.prepare(call_api, aws, tag=1)
        key_b, flow_b = fault_flows.prepare(call_api, aws, tag=2)
        put_object(aws, key_a, fault_flows.file_of(flow_a))
        put_object(aws, key_b, fault_flows.file_of(flow_b))
    event_a, event_b = _take_all(aws, "ValidationQueue")
    batch = [dict(m, MessageId=f"{m['MessageId']}-{i}") for i in range(2) for m in (event_a, event_b)]
    # When the validator gets the batch
    assert _deliver(aws, "ValidationQueue", batch) == {"batchItemFailures": []}
    # Then both uploads were validated, and confirming both creates every row of each once
    for flow in (flow_a, flow_b):
        assert call_api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {"moveExisting": True})[0] == 202
    drain(aws)
    for flow in (flow_a, flow_b):
        fault_flows.assert_exactly_once(call_api, aws, flow)


def test_object_event_validated_by_two_validators_at_once(call_api, aws, faults):
    # Given an uploaded file
    with faults.disarmed():
        key, flow = fault_flows.prepare(call_api, aws)
        put_object(aws, key, fault_flows.file_of(flow))
    (event,) = _take_all(aws, "ValidationQueue")
    # When SQS hands the same event to two validators at once (a visibility timeout ran out mid-validation)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda i: _deliver(aws, "ValidationQueue", [dict(event, MessageId=f"c{i}")]), [1, 2]))
    # Then both succeed, and the upload they validated creates each row once
    assert answers == [{"batchItemFailures": []}] * 2
    assert call_api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {"moveExisting": True})[0] == 202
    drain(aws)
    fault_flows.assert_exactly_once(call_api, aws, flow)


@pytest.mark.parametrize("copies", [2, 3])
def test_creation_batch_redelivered_concurrently_and_after_completion(call_api, aws, faults, copies):
    # Given a confirmed upload whose creation messages are all waiting
    flow, chunks = _confirmed_with_messages_waiting(call_api, aws, faults)
    assert len(chunks) == 3
    # When each is delivered to several workers at once (visibility timeout ran out while the first still worked)
    failed = []
    for message in chunks:
        with ThreadPoolExecutor(max_workers=copies) as pool:
            answers = list(
                pool.map(
                    lambda i, m=message: _deliver_tolerant(aws, dict(m, MessageId=f"{m['MessageId']}-{i}")),
                    range(copies),
                )
            )
        failed += [m for m, answer in zip([message] * copies, answers, strict=True) if answer]
    # And the ones refused as in progress come back later, as does every chunk once more after completion
    for message in failed + chunks:
        assert not _deliver_tolerant(aws, dict(message, MessageId="later"))
    # Then every row ended exactly once
    fault_flows.assert_exactly_once(call_api, aws, flow)
    assert json.loads(chunks[0]["Body"])["uploadId"] == flow.upload_id


def _confirmed_with_messages_waiting(call_api: Any, aws: Any, faults: Faults) -> tuple[Any, list[dict[str, Any]]]:
    """A validated fault-flow upload, confirmed, with its creation messages taken off the queue for the test."""
    with faults.disarmed():
        key, flow = fault_flows.prepare(call_api, aws)
        put_object(aws, key, fault_flows.file_of(flow))
    drain(aws)
    assert call_api("POST", f"/uploads/{flow.upload_id}/confirm", "ridge", {"moveExisting": True})[0] == 202
    chunks = _take_all(aws, "CreationQueue")
    return flow, chunks


def _deliver_tolerant(aws: Any, message: dict[str, Any]) -> bool:
    """Deliver one creation message; whether it failed (and would come back)."""
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    try:
        return bool(_deliver(aws, "CreationQueue", [message])["batchItemFailures"])
    except BatchProcessingError:
        return True


def test_a_chunk_redelivered_after_it_finished_is_answered_from_its_idempotency_record(call_api, aws, faults):
    # Given an upload whose every creation message was delivered once and finished
    flow, chunks = _confirmed_with_messages_waiting(call_api, aws, faults)
    for message in chunks:
        assert not _deliver_tolerant(aws, message)
    fault_flows.assert_exactly_once(call_api, aws, flow)
    # When SQS delivers every one of them again (a redelivery after the first delivery's success)
    faults.calls.clear()
    for message in chunks:
        assert not _deliver_tolerant(aws, dict(message, MessageId=f"{message['MessageId']}-again"))
    # Then the worker did no chunk work at all: its stored answer ended each call before the plan was read
    touched = {call: count for call, count in faults.calls.items() if call[0] in {"s3", "kms"}}
    assert touched == {}, touched
    assert sum(faults.calls.values()) > 0  # the idempotency record was read: the recorder saw the redeliveries
    # And every row still ended exactly once
    fault_flows.assert_exactly_once(call_api, aws, flow)
