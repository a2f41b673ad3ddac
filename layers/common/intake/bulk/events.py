"""Parsing the messages the bulk path receives (S3 notifications, creation chunks), with Pydantic at the boundary."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _S3Object(BaseModel):
    key: str = Field(min_length=1)
    eTag: str = ""
    size: int | None = None


class _S3Entity(BaseModel):
    object: _S3Object


class _S3Record(BaseModel):
    eventName: str
    s3: _S3Entity


class _S3Notification(BaseModel):
    Records: list[_S3Record] = Field(default_factory=list)
    Event: str | None = None


class MalformedMessage(ValueError):
    """A message that can never be processed; it goes to the DLQ after its retries."""


def object_created_records(body: str) -> list[tuple[str, str]]:
    """(key, etag) of each object-created record of an S3 notification; [] for s3:TestEvent."""
    try:
        notification = _S3Notification.model_validate_json(body)
    except ValidationError:
        # Not chained: the validation error quotes the body, and failed records are logged with their cause.
        raise MalformedMessage("not an S3 event notification") from None
    return [
        (record.s3.object.key, record.s3.object.eTag)
        for record in notification.Records
        if record.eventName.startswith("ObjectCreated")
    ]


class CreationMessage(BaseModel):
    """One chunk of an upload's plan to create, from `start` on."""

    model_config = ConfigDict(extra="forbid")

    uploadId: str = Field(min_length=1, max_length=100)
    chunk: int = Field(ge=0)
    start: int = Field(default=0, ge=0)


def creation_message(body: str) -> CreationMessage:
    """The chunk a creation message asks for."""
    try:
        return CreationMessage.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        raise MalformedMessage("not a creation message") from None
