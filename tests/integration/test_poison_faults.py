"""Poison messages: what fails every delivery reaches its DLQ after maxReceiveCount, and the dead-letter handler
leaves its upload FAILED with a reason staff can read; a file deleted before validation fails at once."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import boto3
import pytest

from local.template import load_template
from tests.conftest import AGENCY_A, FAC_A1, UNIT_A1, FakeLambdaContext
from tests.integration import fault_flows
from tests.integration.bulk_helpers import csv_file, drain, get_text, keys_under, put_object, sqs_event
from tests.integration.fault_injection import Faults, Rule, install
from tests.log_capture import cloudwatch_lines


@pytest.fixture
def faults(aws, directory, monkeypatch) -> Faults:
    monkeypatch.setenv("CREATION_CHUNK_SIZE", "5")
    from intake.settings import get_settings

    get_settings.cache_clear()
    return install(monkeypatch)


def _max_receive_count(queue: str) -> int:
    return int(load_template()["Resources"][queue]["Properties"]["RedrivePolicy"]["maxReceiveCount"])


def _drain_dlq(aws: Any, dlq: str) -> list[dict[str, Any]]:
    """Deliver a DLQ to the dead-letter handler as Lambda would; the messages it received."""
    import deadletter_handler

    sqs, url, seen = boto3.client("sqs", region_name="us-east-1"), aws.queue_urls[dlq], []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages"):
        result = deadletter_handler.lambda_handler(sqs_event(messages, aws.queue_arns[dlq]), FakeLambdaContext())
        assert result == {"batchItemFailures": []}
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        seen += messages
    return seen


def _upload(call_api: Any, upload_id: str) -> dict[str, Any]:
    status, body, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert status == 200
    return body


def test_file_that_crashes_every_validation_ends_failed(call_api, aws, faults, capsys):
    # Given an uploaded file whose every read kills the validator
    with faults.disarmed():
        key, flow = fault_flows.prepare(call_api, aws)
        put_object(aws, key, fault_flows.file_of(flow))
    tries = _max_receive_count("ValidationQueue")
    rule = faults.add(Rule("s3", "GetObject", kind="crash_before", key_part=key, times=100))
    # When the queue is drained, and then its DLQ
    drain(aws)
    faults.armed = False
    dead = _drain_dlq(aws, "ValidationDLQ")
    # Then it was tried maxReceiveCount times, dead-lettered once, and the upload is FAILED with a readable reason
    assert rule.fired == tries
    assert len(dead) == 1
    upload = _upload(call_api, flow.upload_id)
    assert upload["status"] == "FAILED"
    assert upload["reason"].startswith("The file could not be checked after several attempts: upload it again")
    # And its file (which may hold passwords) is gone, nothing was planned or created, and the handler counted it
    assert keys_under(aws, "incoming/") == [] and keys_under(aws, "plans/") == []
    from intake.dal.tables import LearnerItem

    assert [item.docId for item in LearnerItem.query(AGENCY_A) if item.uploadId] == []
    assert '"DeadLetters":[1.0]' in capsys.readouterr().out.replace(" ", "")


def test_chunk_that_crashes_every_worker_stops_the_upload_failed_with_what_was_done(call_api, aws, faults):
    # Given a confirmed upload of three chunks whose second chunk kills every worker that reads it
    rule = faults.add(Rule("s3", "GetObject", kind="crash_before", key_part="chunk-000001", times=100))
    flow = fault_flows.run(call_api, aws, faults)
    # When its DLQ is delivered to the dead-letter handler (twice: a redelivered dead letter changes nothing)
    dead = _drain_dlq(aws, "CreationDLQ")
    assert len(dead) == 1 and json.loads(dead[0]["Body"])["chunk"] == 1
    _drain_dlq_again(aws, dead)
    # Then the chunk was tried maxReceiveCount times, and the upload is FAILED saying what was done
    assert rule.fired == _max_receive_count("CreationQueue")
    upload = _upload(call_api, flow.upload_id)
    assert upload["status"] == "FAILED"
    done = upload["counts"]["created"] + upload["counts"]["moved"]
    assert done == fault_flows.NEW_ROWS + fault_flows.MOVED_ROWS - 5
    assert upload["reason"].startswith(f"Creating the learners stopped after several attempts, with {done} of 12 rows")
    # And results.csv lists exactly the rows done, each once, with passwords that work; nothing else was created
    # (the confirmer's copy under passwords/: results.csv under reports/ has the same rows, without passwords)
    results = list(csv.DictReader(io.StringIO(get_text(aws, f"passwords/{FAC_A1}/{flow.upload_id}/results.csv"))))
    assert len(results) == done == len({row["docID"] for row in results})
    from intake.dal.learners import stored_password_hash
    from intake.dal.tables import LearnerItem
    from intake.passwords import verify_password

    created = {item.docId for item in LearnerItem.query(AGENCY_A) if item.uploadId == flow.upload_id}
    assert created == {row["docID"] for row in results if row["outcome"] == "CREATED"}
    assert upload["counts"]["created"] == len(created)
    for row in [r for r in results if r["outcome"] == "CREATED"]:
        assert verify_password(stored_password_hash(AGENCY_A, row["docID"]) or "", row["password"])
    assert keys_under(aws, "incoming/") == [] and keys_under(aws, "plans/") == []
    assert "resultReportUrl" in upload


def _drain_dlq_again(aws: Any, dead: list[dict[str, Any]]) -> None:
    import deadletter_handler

    event = sqs_event(dead, aws.queue_arns["CreationDLQ"])
    assert deadletter_handler.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("queue", "dlq", "body"),
    [
        ("ValidationQueue", "ValidationDLQ", "Records: not json at all"),
        ("ValidationQueue", "ValidationDLQ", '{"Records": [{"eventName": "ObjectCreated:Put"}]}'),
        ("CreationQueue", "CreationDLQ", '{"uploadId": "", "chunk": -1}'),
    ],
    ids=["validation-not-json", "validation-record-without-object", "creation-bad-fields"],
)
def test_malformed_message_reaches_the_dlq_and_is_counted(call_api, aws, faults, queue, dlq, body, capsys, caplog):
    # Given a malformed message on a queue, next to a good upload
    with faults.disarmed():
        key, flow = fault_flows.prepare(call_api, aws)
        put_object(aws, key, fault_flows.file_of(flow))
    boto3.client("sqs", region_name="us-east-1").send_message(QueueUrl=aws.queue_urls[queue], MessageBody=body)
    # When the queues are drained, then the DLQ, with every log line read as CloudWatch receives it
    with cloudwatch_lines() as logged:
        drain(aws)
        dead = _drain_dlq(aws, dlq)
    # Then only the malformed message was dead-lettered, counted as naming no upload, without its body in the logs
    assert [m["Body"] for m in dead] == [body]
    out = capsys.readouterr().out
    assert '"UnidentifiedDeadLetters":[1.0]' in out.replace(" ", "")
    assert "dead letter names no upload" in logged.messages()
    assert not logged.mentions(body) and body not in caplog.text
    # And the good upload was not touched
    assert _upload(call_api, flow.upload_id)["status"] == "VALIDATED"


@pytest.mark.parametrize("source", ["link", "drop"])
def test_file_deleted_before_validation_fails_at_once_with_a_reason(call_api, aws, faults, source):
    # Given a file deleted before the validator got to it
    if source == "link":
        _, body, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
        key = body["upload"]["fields"]["key"]
    else:
        key = f"incoming/{FAC_A1}/roster.csv"
    put_object(aws, key, csv_file([f"1,500001,Ann,Lee,01/02/1990,Learner,,{UNIT_A1}"]))
    boto3.client("s3", region_name="us-east-1").delete_object(Bucket=aws.bucket, Key=key)
    # When the validation queue is drained
    drain(aws)
    # Then the upload is FAILED saying what to do, and nothing waits in the DLQ
    from intake.dal import uploads

    (upload,) = uploads.list_uploads(FAC_A1)
    assert (upload.source, upload.status.value) == (source, "FAILED")
    assert upload.reason == "The file was deleted or replaced before it could be checked: upload it again"
    assert _drain_dlq(aws, "ValidationDLQ") == []
