"""A worker short of time hands the rest of its chunk back to the queue instead of being cut off mid-part."""

from __future__ import annotations

import json

import boto3

from tests.conftest import FAC_A1, UNIT_A1, FakeLambdaContext
from tests.integration.bulk_helpers import csv_file, drain, put_object, sqs_event


def test_worker_hands_back_unfinished_rows_when_time_runs_short(call_api, aws, directory):
    # Given a confirmed upload of 60 rows: one chunk of two parts (50 + 10)
    rows = [f"{i},77{i:04d},Ann,Lee,01/02/1990,Learner,,{UNIT_A1}" for i in range(1, 61)]
    _status, body, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
    put_object(aws, body["upload"]["fields"]["key"], csv_file(rows))
    drain(aws)
    upload_id = body["uploadId"]
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = aws.queue_urls["CreationQueue"]
    message = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=0)["Messages"][0]

    # When a worker with 10 s left (under the 15 s margin) takes the chunk
    import worker_handler

    result = worker_handler.lambda_handler(
        sqs_event([message], aws.queue_arns["CreationQueue"]), FakeLambdaContext(remaining_ms=10_000)
    )
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    # Then it finished the first part only, succeeded, and queued the rest of the chunk from row 50
    assert result == {"batchItemFailures": []}
    _, partway, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert partway["status"] == "CREATING" and partway["counts"]["created"] == 50
    handed_back = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert [json.loads(m["Body"]) for m in handed_back] == [{"uploadId": upload_id, "chunk": 0, "start": 50}]

    # And the next worker completes the upload: every row created once
    drain(aws)
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED"
    assert done["counts"]["created"] == 60 and done["counts"]["failed"] == 0
