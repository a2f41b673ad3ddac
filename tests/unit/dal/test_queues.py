"""intake.dal.queues: chunk messages sent to the creation queue ten per request; refusals raised to be retried.

Written against the interface of today (a list of message dicts); the powertools part of issue 14 changes it."""

from __future__ import annotations

import json

import pytest

from intake.dal import queues
from intake.dal.aws import client
from intake.domain import CreationMessage
from intake.errors import StorageUnavailable
from intake.settings import get_settings
from tests.integration.fault_injection import Faults, Rule, _Sleeps


@pytest.fixture
def sqs_faults(aws, monkeypatch) -> Faults:
    import botocore.endpoint

    faults = Faults()
    monkeypatch.setattr(botocore.endpoint, "time", _Sleeps(faults.delays))
    faults.attach(client("sqs"))
    return faults


def _drain() -> list[dict]:
    """Every message on the creation queue (bodies decoded)."""
    url = get_settings().creation_queue_url
    bodies: list[dict] = []
    while True:
        answer = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            client("sqs").delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _messages(n: int) -> list[CreationMessage]:
    return [CreationMessage(uploadId="up-1", chunk=i, start=0) for i in range(n)]


def test_messages_are_sent_ten_per_request(aws, sqs_faults):
    # Given 23 chunk messages
    # When they are sent
    queues.send_creation_messages(_messages(23))
    # Then the queue holds each once, sent in three requests
    with sqs_faults.disarmed():
        bodies = _drain()
    assert sorted(body["chunk"] for body in bodies) == list(range(23))
    assert sqs_faults.calls[("sqs", "SendMessageBatch")] == 3


def test_the_body_is_compact_json(aws, monkeypatch):
    # Given one message
    sent: list[dict] = []
    monkeypatch.setattr(client("sqs"), "send_message_batch", lambda **kw: sent.append(kw) or {"Successful": []})
    # When it is sent
    queues.send_creation_messages([CreationMessage(uploadId="up-1", chunk=0)])
    # Then its body has no spaces, its id is its place in the batch, and it goes to the creation queue
    assert sent == [
        {
            "QueueUrl": get_settings().creation_queue_url,
            "Entries": [{"Id": "0", "MessageBody": '{"uploadId":"up-1","chunk":0,"start":0}'}],
        }
    ]


def test_no_messages_make_no_request(aws, sqs_faults):
    # Given nothing to send
    # When it is sent
    queues.send_creation_messages([])
    # Then SQS was not called
    assert sqs_faults.calls[("sqs", "SendMessageBatch")] == 0


def test_a_partly_refused_batch_is_raised_to_be_retried(aws, monkeypatch):
    # Given SQS refusing one entry of a batch
    monkeypatch.setattr(
        client("sqs"),
        "send_message_batch",
        lambda **kw: {"Successful": [{"Id": "0"}], "Failed": [{"Id": "1", "Code": "InternalError"}]},
    )
    # When two messages are sent
    # Then the refusal is raised, saying to confirm again
    with pytest.raises(StorageUnavailable, match="Could not queue every chunk; confirm again"):
        queues.send_creation_messages(_messages(2))


def test_a_failed_send_is_storage_unavailable_and_queues_nothing(aws, sqs_faults):
    # Given SQS denying sends
    sqs_faults.add(Rule("sqs", "SendMessageBatch", code="AccessDenied", status=403, times=100))
    # When messages are sent
    with pytest.raises(StorageUnavailable, match="Could not queue the work"):
        queues.send_creation_messages(_messages(3))
    # Then the queue is empty
    with sqs_faults.disarmed():
        assert _drain() == []
