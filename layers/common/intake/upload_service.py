"""Uploads as staff see them: links, status, listing and the confirm that starts creation."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from intake import audit, authz, clock
from intake.bulk import keys, lifecycle
from intake.bulk.lifecycle import expiry_of, record_ttl
from intake.dal import objects
from intake.dal import uploads as upload_store
from intake.domain import UNFINISHED, Location, StaffMember, Upload, UploadMode, UploadStatus
from intake.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from intake.facility_service import get_facility, upload_limits
from intake.observability import logger
from intake.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

PAGE_LIMIT_MIN, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX = 1, 50, 200
CURSOR_MAX = 512
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


@dataclass(frozen=True)
class UploadLink:
    """A new upload and how to send its file: a presigned POST (`fields` go with the file) until `expires_at`."""

    upload: Upload
    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int


@dataclass(frozen=True)
class ReportLinks:
    """An upload's short-lived report links, each None when the requestor gets none."""

    error_report_url: str | None = None
    plan_report_url: str | None = None  # a sync's plan.csv, linked as errors.csv is
    result_report_url: str | None = None
    result_report_has_passwords: bool | None = None
    passwords_until: str | None = None


@dataclass(frozen=True)
class UploadWithLinks:
    """One upload as the requestor may see it, with its report links."""

    upload: Upload
    links: ReportLinks


@dataclass(frozen=True)
class UploadPage:
    """One page of a facility's uploads, newest first; `next_cursor` when there are more."""

    uploads: list[UploadWithLinks]
    next_cursor: str | None


@dataclass(frozen=True)
class Confirmed:
    """What a confirm answers: the upload and its status."""

    upload_id: str
    status: UploadStatus


def new_upload_id() -> str:
    """A new, random upload id (also the object name of a presigned upload)."""
    return uuid.uuid4().hex


def link_origin() -> str:
    """The scheme and host that upload and report links point at (the staff page's Content-Security-Policy)."""
    return objects.bucket_origin()


def _require_writer(requestor: StaffMember, facility: Location) -> None:
    if not authz.can_write_location(requestor, facility):
        raise PermissionDenied("Requestor does not have permission to upload learners for this facility")


def create_upload_link(
    requestor: StaffMember, facility_id: str, file_name: str | None, mode: UploadMode = UploadMode.CREATE
) -> UploadLink:
    """A new upload awaiting its file, and a presigned POST bound to its key and size limit; `mode` sync diffs the
    file against the facility's roster (contract "Uploads: create or sync")."""
    facility = get_facility(requestor, facility_id)
    _require_writer(requestor, facility)
    settings = get_settings()
    now = clock.utc_now()
    upload = Upload(
        upload_id=new_upload_id(),
        facility_id=facility.location_id,
        agency_id=facility.agency_id,
        source="link",
        file_name=file_name,
        object_key="",
        status=UploadStatus.AWAITING_FILE,
        created_at=now.isoformat(),
        created_by=requestor.username,
        expires_at=expiry_of(now),
        mode=mode,
    )
    upload = upload.model_copy(update={"object_key": keys.incoming_key(facility.location_id, upload.upload_id)})
    upload_store.insert_upload(upload, ttl=record_ttl(now))
    max_bytes, _ = upload_limits(facility)
    post = objects.presigned_post(upload.object_key, max_bytes, settings.upload_link_ttl_seconds)
    logger.info("upload link created", extra={"upload_id": upload.upload_id, "facility_id": facility.location_id})
    return UploadLink(
        upload=upload,
        url=post["url"],
        fields=post["fields"],
        expires_at=(now + timedelta(seconds=settings.upload_link_ttl_seconds)).isoformat(),
        max_bytes=max_bytes,
    )


def load_upload(requestor: StaffMember, upload_id: str) -> tuple[Upload, Location]:
    """An upload of a facility the requestor may see; NotFound otherwise (even if it exists elsewhere)."""
    upload = upload_store.get_upload(upload_id)
    if upload is None:
        raise NotFound("No such upload")
    try:
        facility = get_facility(requestor, upload.facility_id)
    except NotFound:
        raise NotFound("No such upload") from None
    return expire_if_due(upload), facility


def expire_if_due(upload: Upload) -> Upload:
    """An unconfirmed upload past its expiry becomes EXPIRED (its plan is removed; its raw file is left to the
    bucket's ExpireIncoming rule: the API may not touch incoming/)."""
    if upload.status not in UNFINISHED or clock.utc_now().isoformat() < upload.expires_at:
        return upload
    expired = lifecycle.expire(upload)
    if expired is None:
        return upload_store.get_upload(upload.upload_id) or upload
    return expired


def with_links(
    upload: Upload, requestor: StaffMember, facility: Location, issue_passwords: bool = False
) -> UploadWithLinks:
    """An upload with its short-lived report links."""
    return UploadWithLinks(upload, report_links(upload, requestor, facility, issue_passwords=issue_passwords))


def report_links(
    upload: Upload, requestor: StaffMember, facility: Location, issue_passwords: bool = False
) -> ReportLinks:
    """Short-lived report links: errors.csv; results.csv for staff who may create learners there.

    results.csv has no passwords. Its copy with the generated passwords is linked instead (`resultReportHasPasswords`)
    only when `issue_passwords` (GET /uploads/{id}, not the listing), to the staff member who confirmed the upload (a
    drop's: the first of its facility's writers to ask), until `passwordsUntil` (24 hours); each such link is audited.
    """
    ttl = get_settings().report_link_ttl_seconds
    errors_url = None
    if upload.error_report_key:
        errors_url = objects.presigned_get(upload.error_report_key, ttl, f"errors-{upload.upload_id}.csv")
    plan_url = None
    if upload.plan_report_key:
        plan_url = objects.presigned_get(upload.plan_report_key, ttl, f"plan-{upload.upload_id}.csv")
    if not upload.result_report_key or not authz.can_write_location(requestor, facility):
        return ReportLinks(error_report_url=errors_url, plan_report_url=plan_url)
    passwords_key = upload.result_passwords_key
    if issue_passwords and passwords_key and _may_have_passwords(upload, requestor):
        links = ReportLinks(
            error_report_url=errors_url,
            plan_report_url=plan_url,
            result_report_url=objects.presigned_get(passwords_key, ttl, f"results-{upload.upload_id}-passwords.csv"),
            result_report_has_passwords=True,
            passwords_until=upload.passwords_until,
        )
        audit.record(
            requestor.username,
            "RESULT_PASSWORDS_ISSUED",
            "upload",
            upload.upload_id,
            scopes=[upload.facility_id],
            agency_id=upload.agency_id,
            facility_id=upload.facility_id,
            details={"linkSeconds": ttl},
        )
        logger.info("results with passwords issued", extra={"upload_id": upload.upload_id})
        return links
    return ReportLinks(
        error_report_url=errors_url,
        plan_report_url=plan_url,
        result_report_url=objects.presigned_get(upload.result_report_key, ttl, f"results-{upload.upload_id}.csv"),
        result_report_has_passwords=False,
    )


def _may_have_passwords(upload: Upload, requestor: StaffMember) -> bool:
    if not upload.result_passwords_key or not upload.passwords_until:
        return False
    if clock.utc_now().isoformat() >= upload.passwords_until:
        return False  # the sweeper deletes the copy within the hour; until then nobody gets it
    if upload.confirmed_by == requestor.username:
        return True
    if (upload.confirmed_by or "").startswith("drop:"):
        # An auto-confirmed drop has no confirming person: the first writer of the facility to ask gets them, alone.
        return upload.passwords_claimed_by == requestor.username or upload_store.claim_result_passwords(
            upload.upload_id, requestor.username
        )
    return False


def get_upload(requestor: StaffMember, upload_id: str) -> UploadWithLinks:
    """GET /uploads/{uploadId}: the upload, with the results' passwords for whoever may have them."""
    upload, facility = load_upload(requestor, upload_id)
    return with_links(upload, requestor, facility, issue_passwords=True)


def list_uploads(
    requestor: StaffMember, facility_id: str, limit: int = PAGE_LIMIT_DEFAULT, cursor: str | None = None
) -> UploadPage:
    """GET /facilities/{facilityId}/uploads: one page, newest first, with nextCursor when there is more."""
    facility = get_facility(requestor, facility_id)
    if not PAGE_LIMIT_MIN <= limit <= PAGE_LIMIT_MAX:
        raise ValidationFailed(
            [FieldError("limit", "INVALID_VALUE", f"limit must be from {PAGE_LIMIT_MIN} to {PAGE_LIMIT_MAX}")]
        )
    after = decode_cursor(cursor, facility.location_id) if cursor else None
    page, last = upload_store.list_upload_page(facility.location_id, limit, after)
    return UploadPage(
        uploads=[with_links(expire_if_due(u), requestor, facility) for u in page],
        next_cursor=None if last is None else encode_cursor(facility.location_id, last),
    )


def encode_cursor(facility_id: str, position: tuple[str, str]) -> str:
    """An opaque cursor: the last listed upload's key in the facility's index (createdAt, uploadId)."""
    created_at, upload_id = position
    raw = json.dumps([facility_id, created_at, upload_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, facility_id: str) -> tuple[str, str]:
    """The position a cursor names; VALIDATION_FAILED unless it is a well-formed key of this facility's index.

    A cursor is not signed: whatever decodes is a position among uploads the requestor may list anyway, and one of
    another facility (or anything else) is refused, so no cursor reaches another facility's partition.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
        cursor_facility, created_at, upload_id = values
        valid = (
            len(cursor) <= CURSOR_MAX
            and cursor_facility == facility_id
            and isinstance(created_at, str)
            and datetime.fromisoformat(created_at).tzinfo is not None
            and isinstance(upload_id, str)
            and _UPLOAD_ID.fullmatch(upload_id) is not None
        )
    except (ValueError, TypeError, UnicodeError):
        valid = False
    if not valid:
        raise ValidationFailed(
            [FieldError("cursor", "INVALID_VALUE", "cursor is not one this list gave: start again without it")]
        )
    return created_at, upload_id


def confirm_upload(
    requestor: StaffMember,
    upload_id: str,
    skip_invalid_rows: bool,
    move_existing: bool,
    lambda_context: LambdaContext,
    allow_mass_deactivation: bool = False,
) -> Confirmed:
    """Start creating an upload's plan; repeating the same call answers the same and creates nothing twice.

    `lambda_context` is the invocation's: an in-progress confirm's record expires with it.
    """
    upload, facility = load_upload(requestor, upload_id)
    _require_writer(requestor, facility)
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    from intake import confirming  # the idempotency utility (and boto3 under it): loaded by the first confirm only

    confirming.idempotency_config.register_lambda_context(lambda_context)
    run = confirming.start_creation_once
    command = confirming.ConfirmCommand(
        upload_id=upload.upload_id,
        skip_invalid_rows=skip_invalid_rows,
        move_existing=move_existing,
        allow_mass_deactivation=allow_mass_deactivation,
        confirmed_by=requestor.username,
    )
    try:
        answer = run(command=command)  # the stored idempotent answer stays the JSON dict it always was
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict("A confirm of this upload is in progress: check its status in a moment") from exc
    return Confirmed(upload_id=answer["uploadId"], status=UploadStatus(answer["status"]))
