"""Validating an uploaded file: stream it, check every row, look DOC IDs up in batches, plan and report."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, BinaryIO, cast

from intake import clock, passwords
from intake.bulk import keys, lifecycle
from intake.bulk.checking import check_file
from intake.bulk.planning import LOOKUPS_IN_FLIGHT, Planned, Planner, SyncPlanner, mass_deactivation_hold
from intake.bulk.reports import PlanReport, write_error_report
from intake.bulk.types import (
    CREATE,
    MOVE,
    REACTIVATE,
    UNCHANGED,
    CheckedRow,
    CleanRow,
    FileRejected,
    PlanEntry,
    RowIssue,
    plan_chunk_json,
)
from intake.dal import directory, objects
from intake.dal import keys as key_store
from intake.dal import learners as learner_store
from intake.dal import uploads as upload_store
from intake.domain import Location, StaffMember, Upload, UploadMode, UploadStatus
from intake.errors import NotFound
from intake.facility_service import upload_limits
from intake.observability import logger, metrics
from intake.settings import get_settings

KEPT_ISSUES = 100
SPOOL_BYTES = 8 * 1024 * 1024
GONE_REASON = "The file was deleted or replaced before it could be checked: upload it again"
# The actions whose creation may need the upload's data key (a password given or generated); a sync's UPDATE and
# DEACTIVATE never touch a password, and UNCHANGED is no write at all.
_KEYED_ACTIONS = frozenset({CREATE, MOVE, REACTIVATE})


def validate_upload(upload: Upload, requestor: StaffMember, etag: str | None = None) -> Upload | None:
    """Check every row of an upload's file (given an etag, only that version) and record plan, counts and status."""
    facility = directory.get_location(upload.facility_id)
    max_bytes, max_rows = upload_limits(facility)
    try:
        size = objects.object_size(upload.object_key, etag)
        if size > max_bytes:
            return lifecycle.reject(upload, "TOO_LARGE", f"The file is larger than {max_bytes} bytes: split it")
        body = objects.open_object(upload.object_key, etag)
    except NotFound:
        return lifecycle.fail(upload, GONE_REASON)
    planner = _Planner(upload, facility)
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
            planner.add_all(rows)
            planner.end()
    except FileRejected as rejected:
        planner.discard()
        return lifecycle.reject(upload, rejected.code, rejected.message)
    return planner.finish(info.encoding)


class _Planner:
    """Writes what the planner (intake.bulk.planning) plans: entries into plan chunks, issues into the report.

    The interface validate_upload drives (note, add or add_all, flush, discard, finish) stays; planning itself has
    no I/O.
    """

    def __init__(self, upload: Upload, facility: Location | None = None) -> None:
        self.upload = upload
        self.facility = facility
        self.chunk_size = get_settings().creation_chunk_size
        self.planner: Planner = (
            SyncPlanner(learner_store, self._seal, facility_id=upload.facility_id, agency_id=upload.agency_id)
            if upload.mode is UploadMode.SYNC
            else Planner(learner_store, self._seal, in_flight=LOOKUPS_IN_FLIGHT)
        )
        self.counts = self.planner.counts
        self.chunk: list[PlanEntry] = []
        self.chunks = 0
        self.errors: list[dict] = []
        self.warnings: list[dict] = []
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by finish or discard
        self.issue_count = 0
        self.data_key: tuple[bytes, str] | None = None  # (plaintext, KMS ciphertext), made for the first valid row
        self.sealed: Callable[[str, str], str] | None = None  # passwords.sealer of the data key, made at the first seal
        # A sync's plan.csv, written as entries are planned (in line order; UNCHANGED ones too, which no chunk holds).
        # Create mode keeps its v1 hot path and reports (errors.csv, results.csv).
        self.plan_spool: IO[bytes] | None = None
        self.plan_report: PlanReport | None = None
        if upload.mode is UploadMode.SYNC:
            self.plan_spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by finish or discard
            self.plan_report = PlanReport(cast(BinaryIO, self.plan_spool))

    def _seal(self, password: str, line: int) -> str:
        """A given password as the plan keeps it: AES-GCM under the upload's data key, bound to upload and line."""
        if self.sealed is None:
            self.sealed = passwords.sealer(self._key())  # the cipher made once per upload
        return self.sealed(password, keys.given_password_context(self.upload.upload_id, line))

    def _key(self) -> bytes:
        """The upload's one data key: the one it keeps (an earlier or a concurrent validation of it made it), or one
        made now and kept, unless a concurrent validation kept its own first (then that one: both write the same
        chunks, and only the kept key opens them)."""
        if self.data_key is None:
            upload_id = self.upload.upload_id
            kept = self.upload.data_key
            if kept is None:
                plaintext, made = key_store.new_data_key(upload_id)
                kept = upload_store.keep_data_key(upload_id, made)
                if kept is None:
                    raise NotFound("The upload was deleted while its file was checked")
                if kept == made:
                    self.data_key = (plaintext, made)
                    return plaintext
            self.data_key = (key_store.open_data_key(upload_id, kept), kept)
        return self.data_key[0]

    def note(self, issue: RowIssue) -> None:
        self.issue_count += 1
        kept = self.errors if issue.severity == "error" else self.warnings
        if len(kept) < KEPT_ISSUES:
            kept.append(issue.as_dict())
        self.spool.write(json.dumps(issue.as_dict(), separators=(",", ":")).encode() + b"\n")

    def add(self, checked: CheckedRow | CleanRow) -> None:
        self._take(self.planner.add(checked))

    def add_all(self, rows: Iterable[CheckedRow | CleanRow]) -> None:
        """Every row, what is planned taken as it comes (in a sync, UNCHANGED rows with no call each)."""
        for planned in self.planner.add_all(rows):
            self._take(planned)

    def flush(self) -> None:
        self._take(self.planner.flush())

    def end(self) -> None:
        """After the last row: the last window and, in a sync, the deactivations."""
        self._take(self.planner.end())

    def _take(self, planned: Sequence[Planned]) -> None:
        report = self.plan_report
        for item in planned:
            if isinstance(item, RowIssue):
                self.note(item)
                continue
            if not isinstance(item, PlanEntry):  # a sync's UnchangedRow: no write, no hash, in plan.csv only
                if report is not None:
                    report.unchanged(item[0], item[2])
                continue
            if report is not None:
                report.write(item)
            if item.action == UNCHANGED:
                continue  # no write, no hash: in plan.csv only
            if self.data_key is None and item.action in _KEYED_ACTIONS:
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
        if self.plan_spool is not None:
            self.plan_spool.close()

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
        plan_key = None
        if self.plan_spool is not None and self.plan_report is not None:
            if self.plan_report.rows:
                plan_key = keys.plan_report_key(upload.facility_id, upload.upload_id)
                self.plan_spool.seek(0)
                objects.upload_file(plan_key, self.plan_spool)
            self.plan_spool.close()
        hold = None
        if isinstance(self.planner, SyncPlanner):
            percent = self.facility.max_sync_deactivation_percent if self.facility is not None else None
            hold = mass_deactivation_hold(self.counts["toDeactivate"], self.planner.active_learners, percent)
        status = UploadStatus.VALIDATED if self.counts["invalid"] == 0 else UploadStatus.VALIDATED_WITH_ERRORS
        logger.info(
            "upload validated",
            extra={
                "upload_id": upload.upload_id,
                "status": status.value,
                "counts": self.counts,
                "held": hold is not None,
            },
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
            plan_report_key=plan_key,
            hold=hold,
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
