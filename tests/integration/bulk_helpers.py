"""Drive the bulk path in-process: put files in moto's S3 and feed the queues to the handlers, as Lambda would."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from tests.conftest import FakeLambdaContext, load_event

HEADER = "requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId"


def csv_file(rows: list[str]) -> bytes:
    """A CSV as the template gives it, with these data lines."""
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    records = []
    for message in messages:
        record = copy.deepcopy(load_event("sqs_record.json"))
        record.update(
            messageId=message["MessageId"],
            receiptHandle=message["ReceiptHandle"],
            body=message["Body"],
            eventSourceARN=queue_arn,
        )
        records.append(record)
    return {"Records": records}


def drain(resources: Any, rounds: int = 200, fail_worker_after: int | None = None) -> None:
    """Deliver both queues to their handlers until they are empty (failed records stay for redelivery)."""
    import validator_handler
    import worker_handler

    sqs = boto3.client("sqs", region_name="us-east-1")
    handlers = {"ValidationQueue": validator_handler.lambda_handler, "CreationQueue": worker_handler.lambda_handler}
    batch = {"ValidationQueue": 5, "CreationQueue": 1}
    for _ in range(rounds):
        delivered = 0
        for queue, handler in handlers.items():
            url = resources.queue_urls[queue]
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=batch[queue], VisibilityTimeout=0)
            messages = [m for m in got.get("Messages", []) if "Records" in m["Body"] or queue == "CreationQueue"]
            for m in got.get("Messages", []):
                if m not in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if not messages:
                continue
            delivered += len(messages)
            try:
                result = handler(sqs_event(messages, resources.queue_arns[queue]), FakeLambdaContext())
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            except BatchProcessingError:  # every record failed: Lambda retries the whole batch
                failed = {m["MessageId"] for m in messages}
            for m in messages:
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if not delivered:
            return
    raise AssertionError("queues did not drain")


def put_object(resources: Any, key: str, data: bytes) -> None:
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=resources.bucket, Key=key, Body=data)


def keys_under(resources: Any, prefix: str) -> list[str]:
    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=resources.bucket, Prefix=prefix)
    return [entry["Key"] for entry in listing.get("Contents", [])]


def get_text(resources: Any, key: str) -> str:
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=resources.bucket, Key=key)["Body"].read()
    return body.decode("utf-8-sig")


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))
