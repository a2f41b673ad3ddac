"""Shared by the unit tests of the confirm (test_confirming, test_upload_service): uploads put in a status through the
upload lifecycle itself, and what the creation queue and the idempotency table hold."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from intake.bulk import keys, lifecycle
from intake.dal import uploads as upload_store
from intake.domain import Upload, UploadStatus
from tests.conftest import AGENCY_A, FAC_A1


def awaiting_upload(
    facility_id: str = FAC_A1,
    agency_id: str = AGENCY_A,
    *,
    created: datetime | None = None,
    expires: datetime | None = None,
    upload_id: str | None = None,
) -> Upload:
    """A link upload awaiting its file, stored (created now, expiring in a day, unless told)."""
    created = created or datetime.now(UTC)
    upload_id = upload_id or uuid.uuid4().hex
    upload = Upload(
        upload_id=upload_id,
        facility_id=facility_id,
        agency_id=agency_id,
        source="link",
        object_key=keys.incoming_key(facility_id, upload_id),
        status=UploadStatus.AWAITING_FILE,
        created_at=created.isoformat(),
        created_by="ridge",
        expires_at=(expires or created + timedelta(days=1)).isoformat(),
    )
    assert upload_store.insert_upload(upload, ttl=0)
    return upload


def validated_upload(
    chunks: int = 2, status: UploadStatus = UploadStatus.VALIDATED, facility_id: str = FAC_A1, **kwargs: Any
) -> Upload:
    """An upload moved by the lifecycle to VALIDATED (or VALIDATED_WITH_ERRORS) with a plan of `chunks` chunks."""
    upload = awaiting_upload(facility_id, **kwargs)
    validating = lifecycle.start_validating(upload, '"etag-1"')
    assert validating is not None
    validated = lifecycle.mark_validated(
        validating,
        status,
        counts={"rows": chunks, "toCreate": chunks},
        errors=[],
        warnings=[],
        encoding="utf-8",
        error_report_key=None,
        chunks_total=chunks,
        data_key=None,
    )
    assert validated is not None and validated.status is status
    return validated


def stored(upload_id: str) -> Upload:
    upload = upload_store.get_upload(upload_id)
    assert upload is not None
    return upload


def creation_messages(resources: Any) -> list[dict]:
    """Every message on the creation queue, bodies decoded (received and deleted)."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = resources.queue_urls["CreationQueue"]
    bodies: list[dict] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def idempotency_records(resources: Any) -> list[dict]:
    """The idempotency table's items (id, status, data), read consistently."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    items = dynamodb.scan(TableName=resources.tables["IdempotencyTable"], ConsistentRead=True)["Items"]
    return [{name: next(iter(value.values())) for name, value in item.items()} for item in items]
