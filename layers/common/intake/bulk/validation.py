"""Validating an uploaded file: stream it, check every row, look DOC IDs up in batches, plan and report."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, cast
from urllib.parse import unquote_plus

from intake import clock, passwords
from intake.bulk import keys
from intake.bulk.checking import check_file
from intake.bulk.planning import Planned, Planner
from intake.bulk.reports import write_error_report
from intake.bulk.types import CheckedRow, CleanRow, FileRejected, PlanEntry, RowIssue, plan_chunk_json
from intake.dal import directory, objects
from intake.dal import keys as key_store
from intake.dal import learners as learner_store
from intake.dal import staff as staff_store
from intake.dal import uploads as upload_store
from intake.domain import UNFINISHED, Location, LocationKind, Role, StaffMember, Upload, UploadStatus
from intake.errors import NotFound
from intake.facility_service import upload_limits
from intake.observability import logger, metrics
from intake.settings import get_settings
from intake.upload_service import expiry_of, record_ttl

KEPT_ISSUES = 100
SPOOL_BYTES = 8 * 1024 * 1024
GONE_REASON = "The file was deleted or replaced before it could be checked: upload it again"
_VALIDATION = frozenset({UploadStatus.AWAITING_FILE, UploadStatus.VALIDATING})
SECOND_FILE_REASON = (
    "A second file was sent with this upload's link and replaced the first, so neither is used: "
    "ask for a new link and upload one file"
)
DEAD_LETTER_REASON = (
    "The file could not be checked after several attempts: upload it again, and if that fails too, contact support"
)


def drop_upload_id(key: str, etag: str) -> str:
    """The id of a dropped file: the same object (key and content) always gives the same upload."""
    return "drop-" + hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:32]


def facility_scope(facility: Location) -> StaffMember:
    """The requestor a drop is validated as: the facility itself, with its own scope."""
    return StaffMember(
        username=f"drop:{facility.location_id}",
        role=Role.FACILITY_ADMIN,
        agency_id=facility.agency_id,
        facility_ids=(facility.location_id,),
    )


def upload_for_object(raw_key: str, etag: str) -> tuple[Upload, Location] | None:
    """The upload an incoming object belongs to (a presigned link's, or a new drop); None if not ours to validate.

    An object that is not ours (a key outside the layout, an unknown facility's prefix) is deleted at once, only
    while it is still the object the event names: it may hold passwords, and nothing will ever read it.
    """
    parsed = keys.parse_incoming_key(raw_key)
    if parsed is None:
        _ignore_object(unquote_plus(raw_key), etag, "object outside the incoming layout ignored", {})
        return None
    facility_id, name = parsed
    key = f"{keys.INCOMING}{facility_id}/{name}"
    facility = directory.get_location(facility_id)
    if facility is None or facility.kind is not LocationKind.FACILITY:
        _ignore_object(key, etag, "object under an unknown facility ignored", {"facility_id": facility_id})
        return None
    linked = upload_store.get_upload(name.removesuffix(".csv")) if name.endswith(".csv") else None
    if linked is not None and linked.source == "link" and linked.object_key == key:
        return linked, facility
    current = objects.object_etag(key)
    if current is not None and etag and current != etag.strip('"'):
        # An event for an older version of a replaced file, delivered late: the newer version's event will follow.
        # Nothing to delete: the bucket keeps no versions, and the current object is the newer file's.
        logger.info("event for a replaced file ignored", extra={"facility_id": facility_id})
        metrics.add_metric(name="StaleObjectEvents", unit="Count", value=1)
        return None
    now = clock.utc_now()
    upload = Upload(
        upload_id=drop_upload_id(key, etag),
        facility_id=facility_id,
        agency_id=facility.agency_id,
        source="drop",
        file_name=name,
        object_key=key,
        status=UploadStatus.AWAITING_FILE,
        created_at=now.isoformat(),
        created_by=f"drop:{facility_id}",
        expires_at=expiry_of(now),
    )
    if not upload_store.insert_upload(upload, ttl=record_ttl(now)):
        existing = upload_store.get_upload(upload.upload_id)
        if existing is None:
            return None
        upload = existing
    return upload, facility


def _ignore_object(key: str, etag: str, why: str, extra: dict[str, str]) -> None:
    """Delete an object Intake will never validate, unless another object has replaced it meanwhile."""
    deleted = key.startswith(keys.INCOMING) and objects.delete_if_current(key, etag)
    logger.warning(why, extra={**extra, "deleted": deleted})
    metrics.add_metric(name="IgnoredObjectsDeleted" if deleted else "IgnoredObjects", unit="Count", value=1)


def validate_object(raw_key: str, etag: str) -> Upload | None:
    """Validate the file of one S3 object-created event; a duplicate event of a validated file changes nothing.

    An upload takes exactly one object: the first event claims the upload for its object's ETag (a conditional
    write), and validation reads that version only. Any other object for the same upload is refused and deleted.
    """
    found = upload_for_object(raw_key, etag)
    if found is None:
        return None
    upload, facility = found
    started = upload_store.claim_object(upload.upload_id, etag)
    if started is None:
        _refuse_object(upload, etag)
        return upload
    if upload.source == "drop":
        requestor = facility_scope(facility)
    else:
        requestor = staff_store.get_staff(upload.created_by) or StaffMember(
            username=upload.created_by, role=Role.EDUCATOR
        )
    result = validate_upload(started, requestor, etag=started.object_etag)
    if (
        result is not None
        and result.status is UploadStatus.VALIDATED
        and result.source == "drop"
        and facility.auto_confirm_drops
    ):
        from intake.bulk.creation import begin_creation  # auto-confirmed drops only

        begin_creation(result, skip_invalid_rows=False, move_existing=False, confirmed_by=requestor.username)
    return result


def _refuse_object(upload: Upload, etag: str) -> None:
    """An object event for an upload that does not take it: a redelivery of its own object, or another object.

    Its own object (same ETag) is kept while the upload may still need it, and deleted once the upload is finished.
    Another object is deleted if it is still the current one; it then replaced the upload's own file, so an upload
    not yet creating fails (what was validated can no longer be read back) rather than use a file it never checked.
    """
    current = upload_store.get_upload(upload.upload_id) or upload
    own = current.object_etag is not None and current.object_etag == etag.strip('"')
    if own and (current.status in UNFINISHED or current.status is UploadStatus.CREATING):
        logger.info("duplicate object event ignored", extra={"upload_id": upload.upload_id})
        return
    deleted = objects.delete_if_current(current.object_key, etag)
    logger.warning(
        "object refused: the upload takes one object",
        extra={"upload_id": upload.upload_id, "status": current.status.value, "own": own, "deleted": deleted},
    )
    metrics.add_metric(name="RefusedObjects", unit="Count", value=1)
    if deleted and not own and current.object_etag is not None and current.status in UNFINISHED:
        _fail(current, SECOND_FILE_REASON, allowed_from=UNFINISHED)


def validate_upload(upload: Upload, requestor: StaffMember, etag: str | None = None) -> Upload | None:
    """Check every row of an upload's file (given an etag, only that version) and record plan, counts and status."""
    max_bytes, max_rows = upload_limits(directory.get_location(upload.facility_id))
    try:
        size = objects.object_size(upload.object_key, etag)
        if size > max_bytes:
            return _reject(upload, "TOO_LARGE", f"The file is larger than {max_bytes} bytes: split it")
        body = objects.open_object(upload.object_key, etag)
    except NotFound:
        return _fail(upload, GONE_REASON)
    planner = _Planner(upload)
    try:
        with body:
            info, rows = check_file(
                cast(BinaryIO, body),
                requestor=requestor,
                resolve_location=directory.get_location,
                today=clock.today(),
                facility_id=upload.facility_id,
                max_bytes=max_bytes,
                max_rows=max_rows,
            )
            for issue in info.warnings:
                planner.note(issue)
            for row in rows:
                planner.add(row)
            planner.flush()
    except FileRejected as rejected:
        planner.discard()
        return _reject(upload, rejected.code, rejected.message)
    return planner.finish(info.encoding)


def _file_issue(code: str, message: str) -> RowIssue:
    return RowIssue(line=0, request_id="", doc_id="", field="file", code=code, message=message)


def _reject(upload: Upload, code: str, message: str) -> Upload | None:
    issue = _file_issue(code, message)
    report_key = keys.error_report_key(upload.facility_id, upload.upload_id)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
        write_error_report([issue], cast(BinaryIO, out))
        out.seek(0)
        objects.upload_file(report_key, out)
    objects.delete_raw(upload.object_key, upload.object_etag)  # a rejected file may still hold passwords
    logger.info("upload rejected", extra={"upload_id": upload.upload_id, "code": code})
    metrics.add_metric(name="UploadsRejected", unit="Count", value=1)
    return upload_store.transition(
        upload.upload_id,
        {UploadStatus.VALIDATING},
        UploadStatus.REJECTED,
        errors=[issue.as_dict()],
        errorReportKey=report_key,
        counts={"rows": 0},
    )


def _fail(
    upload: Upload, reason: str, etag: str | None = None, allowed_from: frozenset[UploadStatus] = _VALIDATION
) -> Upload | None:
    """The upload FAILED, its plan and raw file deleted (given an etag, that object's version of the file)."""
    failed = upload_store.transition(upload.upload_id, set(allowed_from), UploadStatus.FAILED, reason=reason)
    if failed is None:
        # Already FAILED by an earlier attempt that stopped before its deletes: finish them; any other state is kept.
        current = upload_store.get_upload(upload.upload_id)
        if current is None or current.status is not UploadStatus.FAILED:
            return None
    else:
        logger.warning("upload failed", extra={"upload_id": upload.upload_id})
        metrics.add_metric(name="UploadsFailed", unit="Count", value=1)
    objects.delete_raw(upload.object_key, etag or upload.object_etag)  # what is left of it may hold passwords
    objects.delete_prefix(keys.plan_prefix(upload.facility_id, upload.upload_id))
    return failed or current


def fail_unvalidated(raw_key: str, etag: str) -> Upload | None:
    """A dead-lettered object event: its upload (if any is ours) becomes FAILED with a reason staff can act on.

    Only the upload the object belongs to: an object another one had already claimed the upload for is refused.
    """
    found = upload_for_object(raw_key, etag)
    if found is None:
        return None
    upload = found[0]
    if upload.object_etag is not None and upload.object_etag != etag.strip('"'):
        _refuse_object(upload, etag)
        return None
    return _fail(upload, DEAD_LETTER_REASON, etag=etag or None)


class _Planner:
    """Writes what the planner (intake.bulk.planning) plans: entries into plan chunks, issues into the report.

    The interface validate_upload drives (note, add, flush, discard, finish) stays; planning itself has no I/O.
    """

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.chunk_size = get_settings().creation_chunk_size
        self.planner = Planner(learner_store, self._seal)
        self.counts = self.planner.counts
        self.chunk: list[PlanEntry] = []
        self.chunks = 0
        self.errors: list[dict] = []
        self.warnings: list[dict] = []
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by finish or discard
        self.issue_count = 0
        self.data_key: tuple[bytes, str] | None = None  # (plaintext, KMS ciphertext), made for the first valid row

    def _seal(self, password: str, line: int) -> str:
        """A given password as the plan keeps it: AES-GCM under the upload's data key, bound to upload and line."""
        return passwords.seal(self._key(), password, keys.given_password_context(self.upload.upload_id, line))

    def _key(self) -> bytes:
        if self.data_key is None:
            self.data_key = key_store.new_data_key(self.upload.upload_id)
        return self.data_key[0]

    def note(self, issue: RowIssue) -> None:
        self.issue_count += 1
        kept = self.errors if issue.severity == "error" else self.warnings
        if len(kept) < KEPT_ISSUES:
            kept.append(issue.as_dict())
        self.spool.write(json.dumps(issue.as_dict(), separators=(",", ":")).encode() + b"\n")

    def add(self, checked: CheckedRow | CleanRow) -> None:
        self._take(self.planner.add(checked))

    def flush(self) -> None:
        self._take(self.planner.flush())

    def _take(self, planned: list[Planned]) -> None:
        for item in planned:
            if isinstance(item, RowIssue):
                self.note(item)
                continue
            if self.data_key is None:
                self._key()  # made for the first valid row: a blank password is derived from it at creation
            self.chunk.append(item)
            if len(self.chunk) >= self.chunk_size:
                self._write_chunk()

    def _write_chunk(self) -> None:
        if self.chunk:
            objects.put_json(
                keys.plan_chunk_key(self.upload.facility_id, self.upload.upload_id, self.chunks),
                plan_chunk_json(self.chunk),
            )
            self.chunks += 1
            self.chunk = []

    def _issues(self) -> Iterator[RowIssue]:
        self.spool.seek(0)
        for line in self.spool:
            yield RowIssue(**_issue_fields(json.loads(line)))

    def discard(self) -> None:
        self.spool.close()

    def finish(self, encoding: str) -> Upload | None:
        self._write_chunk()
        upload = self.upload
        report_key = None
        if self.issue_count:
            report_key = keys.error_report_key(upload.facility_id, upload.upload_id)
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
                write_error_report(self._issues(), cast(BinaryIO, out))
                out.seek(0)
                objects.upload_file(report_key, out)
        self.spool.close()
        status = UploadStatus.VALIDATED if self.counts["invalid"] == 0 else UploadStatus.VALIDATED_WITH_ERRORS
        logger.info(
            "upload validated",
            extra={"upload_id": upload.upload_id, "status": status.value, "counts": self.counts},
        )
        metrics.add_metric(name="RowsValidated", unit="Count", value=self.counts["rows"])
        validated = upload_store.transition(
            upload.upload_id,
            {UploadStatus.VALIDATING},
            status,
            counts=self.counts,
            errors=self.errors,
            warnings=self.warnings,
            encoding=encoding,
            errorReportKey=report_key,
            chunksTotal=self.chunks,
            dataKey=self.data_key[1] if self.data_key else None,
        )
        if validated is not None and upload.source == "link":
            # The plan holds everything creation needs (passwords sealed): the raw file, with its plaintext
            # passwords, goes now rather than at confirm or expiry. A drop's stays until its final status: a late
            # event for an older version of a replaced drop is told stale only while the current object exists.
            objects.delete_keys([upload.object_key])
        return validated


def _issue_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "line": data["line"],
        "request_id": data["requestId"],
        "doc_id": data["docId"],
        "field": data["field"],
        "code": data["code"],
        "message": data["message"],
        "severity": data["severity"],
    }
