"""The creation queue: confirm fans an upload's plan out to workers in chunk messages."""

from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from intake.dal.aws import client
from intake.domain import CreationMessage
from intake.errors import StorageUnavailable
from intake.settings import get_settings

SEND_BATCH = 10


def send_creation_messages(messages: Sequence[CreationMessage]) -> None:
    """Send chunk messages (10 per request, each as compact JSON); a message SQS refuses is retried by raising."""
    queue_url = get_settings().creation_queue_url
    try:
        for start in range(0, len(messages), SEND_BATCH):
            entries = [
                {"Id": str(index), "MessageBody": message.model_dump_json()}
                for index, message in enumerate(messages[start : start + SEND_BATCH])
            ]
            response = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
            if response.get("Failed"):
                raise StorageUnavailable("Could not queue every chunk; confirm again to resume")
    except (ClientError, BotoCoreError) as exc:
        raise StorageUnavailable("Could not queue the work right now; try again in a moment") from exc
