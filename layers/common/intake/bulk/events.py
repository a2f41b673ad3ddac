"""The messages the bulk path receives, modelled at the boundary with Powertools' parser models.

The validator's SQS records carry S3 event notifications (Powertools' S3 models, extended for what S3 also sends:
the `s3:TestEvent` written when a notification is saved, with no `Records`, and moto's records, which lack
`userIdentity`, `requestParameters`, `responseElements` and the bucket's `ownerIdentity`). The worker's carry a
`CreationMessage` (in intake.domain: the creation queue's sender, intake.dal.queues, takes it too). A dead letter's
body is either kind, or anything else. No model repeats its input in its errors: a body may hold anything, and a
record that fails validation is logged with its cause.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.utilities.parser.models.s3 import (
    S3Bucket,
    S3Identity,
    S3Message,
    S3Model,
    S3Object,
    S3OwnerIdentify,
    S3RecordModel,
    S3RequestParameters,
    S3ResponseElements,
)
from aws_lambda_powertools.utilities.parser.models.sqs import SqsRecordModel
from pydantic import ConfigDict, Field, Json, TypeAdapter, ValidationError, model_validator

from intake.domain import CreationMessage

__all__ = [
    "CreationMessage",
    "CreationRecord",
    "DeadLetterRecord",
    "ObjectEvent",
    "ObjectEventRecord",
    "S3Notification",
]

_QUIET = ConfigDict(hide_input_in_errors=True)


class _Object(S3Object):
    key: str = Field(min_length=1)


class _Bucket(S3Bucket):
    ownerIdentity: S3OwnerIdentify | None = None  # type: ignore[assignment]


class _Message(S3Message):
    bucket: _Bucket
    object: _Object


class ObjectEvent(S3RecordModel):
    """One record of an S3 event notification."""

    model_config = _QUIET

    userIdentity: S3Identity | None = None  # type: ignore[assignment]
    requestParameters: S3RequestParameters | None = None  # type: ignore[assignment]
    responseElements: S3ResponseElements | None = None  # type: ignore[assignment]
    s3: _Message

    @model_validator(mode="before")
    @classmethod
    def validate_s3_object(cls, values: object) -> object:
        """Powertools' check that an event names its object's size and ETag, without failing on a malformed record.

        Overrides S3RecordModel's (same name): that one raises AttributeError or TypeError (not a validation error,
        so not a failed record of the batch but a crashed batch) on a record without `s3`, `object` or `eventName`.
        An ETag is not required here: a record without one is read unconditionally (`""`), as before.
        """
        return values

    def put_id(self) -> str:
        """The identity of the PUT this record reports, the same in every delivery of the record: S3's `sequencer`
        (distinct for each PUT of a key) and the event's time (moto sends no sequencer; its time is the PUT's)."""
        return f"{self.s3.object.sequencer or ''}@{self.eventTime.isoformat()}"


class S3Notification(S3Model):
    """An S3 event notification; `s3:TestEvent` has no records."""

    model_config = _QUIET

    Records: list[ObjectEvent] = Field(default_factory=list)  # type: ignore[assignment]
    Event: str | None = None

    def created_objects(self) -> list[tuple[str, str, str]]:
        """(key, etag, put id) of each object-created record; [] for s3:TestEvent."""
        return [
            (record.s3.object.key, record.s3.object.eTag or "", record.put_id())
            for record in self.Records
            if record.eventName.startswith("ObjectCreated")
        ]


class ObjectEventRecord(SqsRecordModel):
    """An SQS record of the validation queue: its body is an S3 event notification."""

    model_config = _QUIET

    body: Json[S3Notification]


class CreationRecord(SqsRecordModel):
    """An SQS record of the creation queue: its body is one chunk message."""

    model_config = _QUIET

    body: Json[CreationMessage]


_DeadLetterBody: TypeAdapter[CreationMessage | S3Notification] = TypeAdapter(
    Annotated[Json[CreationMessage] | Json[S3Notification], Field(union_mode="left_to_right")],
    config=_QUIET,
)


class DeadLetterRecord(SqsRecordModel):
    """An SQS record of a DLQ: its body is whatever failed, a creation message, an S3 notification or neither."""

    model_config = _QUIET

    body: str

    def message(self) -> CreationMessage | S3Notification | None:
        """What the body is: a creation message, else an S3 notification, else None (it may hold anything)."""
        try:
            return _DeadLetterBody.validate_python(self.body)
        except ValidationError:
            return None
