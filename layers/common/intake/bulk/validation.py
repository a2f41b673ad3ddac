"""Validating an uploaded file: stream it, check every row, look DOC IDs up in batches, plan and report."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO, Any, BinaryIO, cast

from intake import clock, passwords
from intake.bulk import keys, lifecycle
from intake.bulk.checking import check_file
from intake.bulk.reports import write_error_report
from intake.bulk.types import CheckedRow, CleanRow, FileRejected, RowIssue, as_checked
from intake.dal import directory, objects
from intake.dal import keys as key_store
from intake.dal import learners as learner_store
from intake.domain import Learner, StaffMember, Upload, UploadStatus
from intake.errors import NotFound
from intake.facility_service import upload_limits
from intake.observability import logger, metrics
from intake.settings import get_settings

LOOKUP_BATCH = 100
KEPT_ISSUES = 100
SPOOL_BYTES = 8 * 1024 * 1024
GONE_REASON = "The file was deleted or replaced before it could be checked: upload it again"


def validate_upload(upload: Upload, requestor: StaffMember, etag: str | None = None) -> Upload | None:
    """Check every row of an upload's file (given an etag, only that version) and record plan, counts and status."""
    max_bytes, max_rows = upload_limits(directory.get_location(upload.facility_id))
    try:
        size = objects.object_size(upload.object_key, etag)
        if size > max_bytes:
            return lifecycle.reject(upload, "TOO_LARGE", f"The file is larger than {max_bytes} bytes: split it")
        body = objects.open_object(upload.object_key, etag)
    except NotFound:
        return lifecycle.fail(upload, GONE_REASON)
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
        return lifecycle.reject(upload, rejected.code, rejected.message)
    return planner.finish(info.encoding)


class _Planner:
    """Turns checked rows into plan chunks (CREATE or MOVE), issues into the report, and counts both."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.chunk_size = get_settings().creation_chunk_size
        self.counts = {"rows": 0, "valid": 0, "invalid": 0, "toCreate": 0, "toMove": 0, "warnings": 0}
        self.window: list[CheckedRow] = []
        self.window_valid = 0
        self.chunk: list[dict[str, Any]] = []
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
        row = as_checked(checked)  # the plan entry and any later issue need a CheckedRow
        self.counts["rows"] += 1
        self.window.append(row)
        if row.is_valid:
            self.window_valid += 1
            if self.window_valid >= LOOKUP_BATCH:
                self.flush()

    def flush(self) -> None:
        """Look up the window's DOC IDs (one batched read per agency) and plan each of its rows."""
        existing: dict[tuple[str, str], Learner] = {}
        by_agency: dict[str, list[str]] = {}
        restored = _zero_padded_doc_ids(self.window)
        for row in self.window:
            if row.is_valid:
                by_agency.setdefault(row.agency_id, []).append(row.doc_id)
                if row.line in restored:
                    by_agency[row.agency_id].append(restored[row.line])
        for agency_id, doc_ids in by_agency.items():
            for doc_id, found in learner_store.find_by_doc_ids(agency_id, doc_ids).items():
                existing[(agency_id, doc_id)] = found
        for row in self.window:
            learner = existing.get((row.agency_id, row.doc_id)) if row.is_valid else None
            if learner is None and row.line in restored:
                _warn_lost_zeros(row, existing.get((row.agency_id, restored[row.line])))
            self._plan(row, learner)
        self.window.clear()
        self.window_valid = 0

    def _plan(self, row: CheckedRow, learner: Any) -> None:
        if row.is_valid and learner is not None and learner.facility_id == row.facility_id:
            _doc_id_issue(
                row,
                "LEARNER_EXISTS",
                f"DOC ID {row.doc_id} already has an account at this facility (learnerId {learner.learner_id}): "
                "remove the row",
            )
        for issue in sorted(row.issues, key=lambda i: i.severity != "error"):
            self.note(issue)
        if any(issue.severity == "warning" for issue in row.issues):
            self.counts["warnings"] += 1
        if not row.is_valid:
            self.counts["invalid"] += 1
            return
        self.counts["valid"] += 1
        entry: dict[str, Any] = {
            "line": row.line,
            "requestId": row.request_id,
            "action": "CREATE",
            "docId": row.doc_id,
            "firstName": row.first_name,
            "lastName": row.last_name,
            "dateOfBirth": row.date_of_birth,
            "locationId": row.location_id,
            "facilityId": row.facility_id,
            "agencyId": row.agency_id,
        }
        # No plaintext password in the plan: a given one is sealed; a blank one is derived from the key at creation.
        self._key()
        if row.password:
            entry["sealedPassword"] = self._seal(row.password, row.line)
        if learner is not None:
            entry["action"] = "MOVE"
            entry["existing"] = {
                "learnerId": learner.learner_id,
                "locationId": learner.location_id,
                "facilityId": learner.facility_id,
            }
            self.counts["toMove"] += 1
        else:
            self.counts["toCreate"] += 1
        self.chunk.append(entry)
        if len(self.chunk) >= self.chunk_size:
            self._write_chunk()

    def _write_chunk(self) -> None:
        if self.chunk:
            objects.put_json(
                keys.plan_chunk_key(self.upload.facility_id, self.upload.upload_id, self.chunks), self.chunk
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
        return lifecycle.mark_validated(
            upload,
            status,
            counts=self.counts,
            errors=self.errors,
            warnings=self.warnings,
            encoding=encoding,
            error_report_key=report_key,
            chunks_total=self.chunks,
            data_key=self.data_key[1] if self.data_key else None,
        )


def _zero_padded_doc_ids(window: list[CheckedRow]) -> dict[int, str]:
    """For all-digit DOC IDs shorter than the window's longest all-digit one, that ID with its zeros restored, by line.

    Excel drops leading zeros from a numeric column; IDs of a fixed width mostly start with a non-zero digit, so the
    longest all-digit ID of the window is the agency's width. Only damaged rows cost an extra key in the look-up.
    """
    digits = [row for row in window if row.is_valid and row.doc_id.isdigit()]
    width = max((len(row.doc_id) for row in digits), default=0)
    return {row.line: row.doc_id.zfill(width) for row in digits if len(row.doc_id) < width}


def _warn_lost_zeros(row: CheckedRow, learner: Learner | None) -> None:
    if learner is not None:
        _doc_id_issue(
            row,
            "DOC_ID_LEADING_ZEROS",
            f"DOC ID {row.doc_id} may have lost its leading zeros in Excel: learner {learner.learner_id} has "
            f"DOC ID {learner.doc_id}. If this is that person, format the column as Text and write {learner.doc_id}",
            severity="warning",
        )


def _doc_id_issue(row: CheckedRow, code: str, message: str, severity: str = "error") -> None:
    row.issues.append(
        RowIssue(
            line=row.line,
            request_id=row.request_id,
            doc_id=row.doc_id,
            field="docID",
            code=code,
            message=message,
            severity=severity,
        )
    )


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
