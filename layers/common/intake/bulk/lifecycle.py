"""An upload's life: which status moves are allowed, and the named steps that make them.

Every status change of an upload is one of the steps below, and each step is a conditional write of the data layer
(intake.dal.uploads.transition or claim_object) that only this module calls (tests/unit/bulk/test_lifecycle.py
checks it). A step does its own clean-up: the raw file (it may hold plaintext passwords) and the plan are deleted by
one helper, at the moment each step has always deleted them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import BinaryIO, Final, cast

from intake.bulk import keys
from intake.bulk.reports import write_error_report
from intake.bulk.types import RowIssue
from intake.dal import objects
from intake.dal import uploads as upload_store
from intake.dal.uploads import KEEP, UploadChange
from intake.domain import CONFIRMABLE, UNFINISHED, Upload, UploadStatus
from intake.observability import logger, metrics
from intake.settings import get_settings

SPOOL_BYTES = 8 * 1024 * 1024
# Generated passwords are for the staff member who confirmed, for this long (contract v2); then they are deleted.
RESULT_PASSWORDS_HOURS = 24
VALIDATION = frozenset({UploadStatus.AWAITING_FILE, UploadStatus.VALIDATING})


class Step(StrEnum):
    START_VALIDATING = "start_validating"
    REJECT = "reject"
    MARK_VALIDATED = "mark_validated"
    FAIL = "fail"
    FAIL_REPLACED = "fail_replaced"
    START_CREATING = "start_creating"
    COMPLETE = "complete"
    FAIL_CREATION = "fail_creation"
    REPORT_FAILURE = "report_failure"
    EXPIRE = "expire"


@dataclass(frozen=True)
class Move:
    """The statuses a step may move an upload from, and those it may move it to."""

    allowed_from: frozenset[UploadStatus]
    to: frozenset[UploadStatus]


# The allowed transitions, all in one place: a step's write is conditional on the upload being in allowed_from.
TRANSITIONS: Final[Mapping[Step, Move]] = {
    # The first object event claims the upload; a redelivered one of the same object re-enters.
    Step.START_VALIDATING: Move(VALIDATION, frozenset({UploadStatus.VALIDATING})),
    Step.REJECT: Move(frozenset({UploadStatus.VALIDATING}), frozenset({UploadStatus.REJECTED})),
    Step.MARK_VALIDATED: Move(frozenset({UploadStatus.VALIDATING}), CONFIRMABLE),
    # A file gone before it could be checked, or a dead-lettered object event.
    Step.FAIL: Move(VALIDATION, frozenset({UploadStatus.FAILED})),
    # Another object replaced the upload's own file: an upload not yet creating fails.
    Step.FAIL_REPLACED: Move(UNFINISHED, frozenset({UploadStatus.FAILED})),
    Step.START_CREATING: Move(CONFIRMABLE, frozenset({UploadStatus.CREATING})),
    Step.COMPLETE: Move(
        frozenset({UploadStatus.CREATING}),
        frozenset({UploadStatus.COMPLETED, UploadStatus.COMPLETED_WITH_ERRORS}),
    ),
    Step.FAIL_CREATION: Move(frozenset({UploadStatus.CREATING}), frozenset({UploadStatus.FAILED})),
    # A failed creation's results.csv, recorded on the FAILED upload.
    Step.REPORT_FAILURE: Move(frozenset({UploadStatus.FAILED}), frozenset({UploadStatus.FAILED})),
    Step.EXPIRE: Move(UNFINISHED, frozenset({UploadStatus.EXPIRED})),
}


def allowed_transitions() -> frozenset[tuple[UploadStatus, UploadStatus]]:
    """Every (from, to) pair some step may make."""
    return frozenset((source, to) for move in TRANSITIONS.values() for source in move.allowed_from for to in move.to)


def _transition(step: Step, upload_id: str, to: UploadStatus, change: UploadChange) -> Upload | None:
    move = TRANSITIONS[step]
    if to not in move.to:
        raise ValueError(f"{step.value} does not move an upload to {to.value}")
    return upload_store.transition(upload_id, move.allowed_from, to, change)


def _delete_files(upload: Upload, etag: str | None = None, plan: bool = True) -> None:
    """Delete the upload's raw file and (with plan) its plan. Given the ETag of the object the upload took, only
    that version of the raw file, never a newer file put at the same key since; without one, the key outright."""
    objects.delete_raw(upload.object_key, etag)
    if plan:
        _delete_plan(upload)


def _delete_plan(upload: Upload) -> None:
    objects.delete_prefix(keys.plan_prefix(upload.facility_id, upload.upload_id))


def expiry_of(created: datetime) -> str:
    """When an unconfirmed upload created now expires."""
    return (created + timedelta(days=get_settings().upload_expiry_days)).isoformat()


def record_ttl(now: datetime) -> int:
    """When DynamoDB may delete the record of an upload created now."""
    # The item outlives the upload's own expiry by 90 days, so staff can still read what happened.
    return int((now + timedelta(days=get_settings().upload_expiry_days + 90)).timestamp())


def start_validating(upload: Upload, etag: str) -> Upload | None:
    """Claim the upload for one object (its ETag) and start validating it; None if the upload does not take it."""
    return upload_store.claim_object(upload.upload_id, etag, TRANSITIONS[Step.START_VALIDATING].allowed_from)


def _file_issue(code: str, message: str) -> RowIssue:
    return RowIssue(line=0, request_id="", doc_id="", field="file", code=code, message=message)


def reject(upload: Upload, code: str, message: str) -> Upload | None:
    """The file as a whole is unusable: its one error in errors.csv, the raw file and any plan chunks written before
    the fault (e.g. TOO_MANY_ROWS far down the file) deleted, the upload REJECTED."""
    issue = _file_issue(code, message)
    report_key = keys.error_report_key(upload.facility_id, upload.upload_id)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
        write_error_report([issue], cast(BinaryIO, out))
        out.seek(0)
        objects.upload_file(report_key, out)
    _delete_files(upload, upload.object_etag, plan=False)  # a rejected file may still hold passwords
    logger.info("upload rejected", extra={"upload_id": upload.upload_id, "code": code})
    metrics.add_metric(name="UploadsRejected", unit="Count", value=1)
    rejected = _transition(
        Step.REJECT,
        upload.upload_id,
        UploadStatus.REJECTED,
        UploadChange(errors=[issue.as_dict()], error_report_key=report_key, counts={"rows": 0}),
    )
    if rejected is not None:
        # Only once REJECTED: a refused reject (another attempt validated the file meanwhile) keeps that plan.
        _delete_plan(upload)
    return rejected


def mark_validated(
    upload: Upload,
    status: UploadStatus,
    *,
    counts: dict[str, int],
    errors: list[dict],
    warnings: list[dict],
    encoding: str,
    error_report_key: str | None,
    chunks_total: int,
    data_key: str | None,
    plan_report_key: str | None = None,
    hold: dict[str, str | int] | None = None,
) -> Upload | None:
    """Record the plan's counts and issues: VALIDATED or VALIDATED_WITH_ERRORS; a link's raw file is deleted.

    A sync past its facility's deactivation limit is recorded with its `hold` (intake.bulk.planning
    .mass_deactivation_hold): it is confirmed only with allowMassDeactivation, and never by itself."""
    change = UploadChange(
        counts=counts,
        errors=errors,
        warnings=warnings,
        encoding=encoding,
        error_report_key=error_report_key,
        chunks_total=chunks_total,
        data_key=data_key,
        plan_report_key=plan_report_key,
        hold=hold,
    )
    validated = _transition(Step.MARK_VALIDATED, upload.upload_id, status, change)
    if validated is not None and upload.source == "link":
        # The plan holds everything creation needs (passwords sealed): the raw file, with its plaintext
        # passwords, goes now rather than at confirm or expiry. A drop's stays until its final status: a late
        # event for an older version of a replaced drop is told stale only while the current object exists.
        _delete_files(upload, plan=False)
    return validated


def fail(upload: Upload, reason: str, etag: str | None = None) -> Upload | None:
    """An upload still awaiting or validating its file FAILED, its plan and raw file deleted (given an etag, that
    object's version of the file)."""
    return _fail(Step.FAIL, upload, reason, etag)


def fail_replaced(upload: Upload, reason: str) -> Upload | None:
    """Another object replaced the upload's own file: an upload not yet creating FAILED, its plan and file deleted."""
    return _fail(Step.FAIL_REPLACED, upload, reason, None)


def _fail(step: Step, upload: Upload, reason: str, etag: str | None) -> Upload | None:
    failed = _transition(step, upload.upload_id, UploadStatus.FAILED, UploadChange(reason=reason))
    if failed is None:
        # Already FAILED by an earlier attempt that stopped before its deletes: finish them; any other state is kept.
        current = upload_store.get_upload(upload.upload_id)
        if current is None or current.status is not UploadStatus.FAILED:
            return None
    else:
        logger.warning("upload failed", extra={"upload_id": upload.upload_id})
        metrics.add_metric(name="UploadsFailed", unit="Count", value=1)
    _delete_files(upload, etag or upload.object_etag)  # what is left of it may hold passwords
    return failed or current


def start_creating(
    upload: Upload,
    *,
    skip_invalid_rows: bool,
    move_existing: bool,
    confirmed_by: str,
    confirmed_at: datetime,
    allow_mass_deactivation: bool | None = None,
) -> Upload | None:
    """A confirmable upload is confirmed: CREATING, with the confirm's options; None if it was not confirmable.

    A held sync (its hold: MASS_DEACTIVATION) moves only with allow_mass_deactivation, which is recorded on it."""
    if upload.hold and not allow_mass_deactivation:
        return None
    change = UploadChange(
        skip_invalid_rows=skip_invalid_rows,
        move_existing=move_existing,
        confirmed_by=confirmed_by,
        confirmed_at=confirmed_at.isoformat(),
        allow_mass_deactivation=allow_mass_deactivation if allow_mass_deactivation is not None else KEEP,
    )
    return _transition(Step.START_CREATING, upload.upload_id, UploadStatus.CREATING, change)


def _passwords_until(passwords_key: str | None, now: datetime) -> UploadChange:
    if passwords_key is None:
        return UploadChange()
    until = now + timedelta(hours=RESULT_PASSWORDS_HOURS)
    return UploadChange(result_passwords_key=passwords_key, passwords_until=until.isoformat())


def complete(
    upload: Upload, status: UploadStatus, *, result_report_key: str, passwords_key: str | None, at: datetime
) -> Upload | None:
    """Every chunk is done and results.csv written: the final status, then the raw file and the plan deleted."""
    change = replace(
        _passwords_until(passwords_key, at), result_report_key=result_report_key, completed_at=at.isoformat()
    )
    finished = _transition(Step.COMPLETE, upload.upload_id, status, change)
    if finished is not None:
        clean_up(finished)
    return finished


def fail_creation(upload: Upload, reason: str) -> Upload | None:
    """A creating upload stopped: FAILED. Nothing is deleted yet: results.csv is made from the plan's result parts
    first (report_failure), then clean_up."""
    return _transition(Step.FAIL_CREATION, upload.upload_id, UploadStatus.FAILED, UploadChange(reason=reason))


def report_failure(upload: Upload, result_report_key: str, passwords_key: str | None, at: datetime) -> Upload | None:
    """A failed creation's results.csv (and its copy with passwords, if any) recorded on the FAILED upload."""
    change = replace(_passwords_until(passwords_key, at), result_report_key=result_report_key)
    return _transition(Step.REPORT_FAILURE, upload.upload_id, UploadStatus.FAILED, change)


def clean_up(upload: Upload) -> None:
    """Delete what a finished upload leaves behind: the raw file (it holds passwords) and the plan.

    The raw file only while it is the object the upload took (If-Match its ETag): a drop's key is the facility's file
    name, and the next night's file put there since is another upload's."""
    _delete_files(upload, upload.object_etag)


def expire(upload: Upload, swept_at: str | None = None) -> Upload | None:
    """An unconfirmed upload past its expiry becomes EXPIRED, its raw file and plan deleted; None if it was not
    unfinished any more (nothing changed).

    The sweeper gives its own instant: the reason and completedAt are recorded, and completedAt (this sweep's own
    instant) tells this sweep's transition apart from a concurrent sweep's. A read that finds the upload past its
    expiry (the API) records only the status.

    The raw file goes only while it is the object the upload took (S3's conditional delete, If-Match its ETag): a
    drop's key is the facility's file name, so a newer drop put there since (the next night's roster, maybe still
    awaiting validation) stays. S3 makes that delete only for a caller that may also get the object, so the API,
    which may not touch incoming/ at all (its role may decrypt: no s3:GetObject there, on purpose), deletes only the
    plan and leaves the raw file to the bucket's ExpireIncoming rule (it deletes incoming/ objects 2 days after they
    were put; a file the upload took was put about when the upload was created, its expiry days ago). The sweeper
    expires the upload within the hour anyway when no one reads it first.
    """
    change = UploadChange()
    if swept_at is not None:
        days = get_settings().upload_expiry_days
        change = UploadChange(reason=f"Not confirmed within {days} days: upload the file again", completed_at=swept_at)
    expired = _transition(Step.EXPIRE, upload.upload_id, UploadStatus.EXPIRED, change)
    if expired is None:
        return None
    if swept_at is not None:  # the sweeper
        _delete_files(upload, upload.object_etag)
    else:  # the API: its plan only; its raw file, if any, is left to the bucket's lifecycle rule
        _delete_plan(upload)
    logger.info("upload expired", extra={"upload_id": upload.upload_id})
    return expired
