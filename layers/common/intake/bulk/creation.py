"""Creating an upload's plan: chunks fanned out over SQS, rows created or moved exactly once, results assembled.

Each chunk is processed in parts of PART_SIZE rows. A part's counts and its audit entries are recorded once (one
transaction, conditional on the upload's set of done parts), and every row is a conditional write, so a retried or
duplicated message neither creates a learner twice nor counts it twice. The worker that records a chunk's last part
and finds every chunk done finishes the upload: results.csv, then the raw file and the plan are deleted, then the
final status.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intake import audit, clock, passwords
from intake.bulk import keys
from intake.bulk.reports import neutralise
from intake.dal import directory, objects, queues
from intake.dal import learners as learner_store
from intake.dal import uploads as upload_store
from intake.domain import CONFIRMABLE, AuditEntry, Learner, Location, Upload, UploadStatus, move_of
from intake.errors import Conflict, LearnerExists
from intake.learner_service import new_learner_id
from intake.observability import logger, metrics
from intake.password_rules import blank_password

PART_SIZE = 50
FINISHED = frozenset({UploadStatus.COMPLETED, UploadStatus.COMPLETED_WITH_ERRORS})
HAND_BACK_MARGIN_MS = 15_000
RESULT_COLUMNS = (
    "line",
    "requestId",
    "docID",
    "firstName",
    "lastName",
    "learnerId",
    "locationId",
    "outcome",
    "password",
    "message",
)
SPOOL_BYTES = 8 * 1024 * 1024


def begin_creation(upload: Upload, skip_invalid_rows: bool, move_existing: bool, confirmed_by: str) -> Upload | None:
    """Move a confirmable upload to CREATING and fan its plan out; None if it was not confirmable any more."""
    confirmed_at = clock.utc_now()
    started = upload_store.transition(
        upload.upload_id,
        set(CONFIRMABLE),
        UploadStatus.CREATING,
        skipInvalidRows=skip_invalid_rows,
        moveExisting=move_existing,
        confirmedBy=confirmed_by,
        confirmedAt=confirmed_at.isoformat(),
    )
    if started is not None:
        # Filed at the confirm's time, just before its rows' entries (line 0 < the rows' lines).
        audit.record_all(
            audit.entries_for(
                confirmed_by,
                "UPLOAD_CONFIRMED",
                "upload",
                upload.upload_id,
                scopes=[upload.facility_id],
                agency_id=upload.agency_id,
                facility_id=upload.facility_id,
                details={"skipInvalidRows": skip_invalid_rows, "moveExisting": move_existing},
                at=confirmed_at,
                key=f"{upload.upload_id}:{0:07d}",
            )
        )
        fan_out(started)
    return started


def fan_out(upload: Upload) -> None:
    """One message per plan chunk to the creation queue; an empty plan completes at once."""
    if upload.chunks_total == 0:
        finish_upload(upload.upload_id)
        return
    queues.send_creation_messages(
        [{"uploadId": upload.upload_id, "chunk": chunk, "start": 0} for chunk in range(upload.chunks_total)]
    )


@dataclass
class _Outcome:
    row: dict[str, Any]
    outcome: str
    learner_id: str = ""
    password: str = ""
    message: str = ""


def process_chunk(upload_id: str, chunk: int, start: int, remaining_ms: Callable[[], int]) -> None:
    """Create or move the rows of one chunk from `start`, part by part; hand the rest back if time runs short."""
    upload = upload_store.get_upload(upload_id)
    if upload is not None and upload.status in FINISHED:
        clean_up(upload)  # a finisher that stopped between its status change and its deletes
    if upload is None or upload.status is not UploadStatus.CREATING:
        logger.info("chunk skipped: upload not creating", extra={"upload_id": upload_id, "chunk": chunk})
        return
    rows = objects.get_json(keys.plan_chunk_key(upload.facility_id, upload_id, chunk))
    locations: dict[str, Location | None] = {}
    for part_start in range(start, len(rows), PART_SIZE):
        if part_start > start and remaining_ms() < HAND_BACK_MARGIN_MS:
            queues.send_creation_messages([{"uploadId": upload_id, "chunk": chunk, "start": part_start}])
            logger.info("chunk handed back", extra={"upload_id": upload_id, "chunk": chunk, "start": part_start})
            return
        part_rows = rows[part_start : part_start + PART_SIZE]
        outcomes = [_apply(row, upload, locations) for row in part_rows]
        _record(upload, chunk, part_start, outcomes, finishes_chunk=part_start + PART_SIZE >= len(rows))


def _record(upload: Upload, chunk: int, part_start: int, outcomes: list[_Outcome], finishes_chunk: bool) -> None:
    part_key = keys.result_part_key(upload.facility_id, upload.upload_id, chunk, part_start, len(outcomes))
    objects.put_bytes(part_key, _csv(outcomes))
    counts = {"created": 0, "moved": 0, "skipped": 0, "failed": 0}
    for outcome in outcomes:
        counts[outcome.outcome.lower()] += 1
    entries = _audit_entries(upload, outcomes)
    recorded = upload_store.record_part(upload.upload_id, f"{chunk}:{part_start}", counts, finishes_chunk, entries)
    metrics.add_metric(name="LearnersCreated", unit="Count", value=counts["created"])
    if recorded is None:
        logger.info("part already recorded", extra={"upload_id": upload.upload_id, "chunk": chunk})
    if recorded is None or recorded.chunks_done >= recorded.chunks_total:
        finish_upload(upload.upload_id)


def _audit_entries(upload: Upload, outcomes: list[_Outcome]) -> list[AuditEntry]:
    """One entry per created or moved row, keyed by upload and line so a retried part overwrites its own."""
    at = datetime.fromisoformat(upload.confirmed_at) if upload.confirmed_at else clock.utc_now()
    actor = upload.confirmed_by or upload.created_by
    entries: list[AuditEntry] = []
    for o in outcomes:
        if o.outcome not in ("CREATED", "MOVED"):
            continue
        row = o.row
        scopes = [row["facilityId"]]
        details: dict[str, str | int | bool | None] = {"uploadId": upload.upload_id, "locationId": row["locationId"]}
        if o.outcome == "MOVED":
            scopes.insert(0, row["existing"]["facilityId"])
            details["fromLocationId"] = row["existing"]["locationId"]
        entries += audit.entries_for(
            actor,
            "LEARNER_CREATED" if o.outcome == "CREATED" else "LEARNER_MOVED",
            "learner",
            o.learner_id,
            scopes=scopes,
            agency_id=row["agencyId"],
            facility_id=row["facilityId"],
            details=details,
            at=at,
            key=f"{upload.upload_id}:{row['line']:07d}",
        )
    return entries


def _csv(outcomes: list[_Outcome]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for o in outcomes:
        row = o.row
        writer.writerow(
            [
                row["line"],
                neutralise(row["requestId"]),
                neutralise(row["docId"]),
                neutralise(row["firstName"]),
                neutralise(row["lastName"]),
                o.learner_id,
                row["locationId"]
                if o.outcome in ("CREATED", "MOVED")
                else row.get("existing", {}).get("locationId", ""),
                o.outcome,
                o.password,
                neutralise(o.message),
            ]
        )
    return out.getvalue().encode("utf-8")


def _apply(row: dict[str, Any], upload: Upload, locations: dict[str, Location | None]) -> _Outcome:
    try:
        if row["action"] == "MOVE":
            return _move(row, upload, locations)
        if row["locationId"] not in locations:
            locations[row["locationId"]] = directory.get_location(row["locationId"])
        location = locations[row["locationId"]]
        if location is None or not location.active:
            return _Outcome(row, "FAILED", message="The location was deactivated since the file was checked")
        if not row.get("password"):
            if row["facilityId"] not in locations:
                locations[row["facilityId"]] = directory.get_location(row["facilityId"])
            facility = locations[row["facilityId"]]
            rule = facility.password_rule if facility is not None else None
            if rule is not None and rule.blank_format:
                row = {**row, "formatPassword": blank_password(rule, row["firstName"], row["lastName"], row["docId"])}
        return _create(row, upload)
    except Conflict as exc:
        return _Outcome(row, "FAILED", message=exc.message)


def _create(row: dict[str, Any], upload: Upload) -> _Outcome:
    generated = (row.get("formatPassword") or passwords.generate_password()) if not row.get("password") else ""
    password_hash = passwords.hash_password(row.get("password") or generated)
    learner = Learner(
        learner_id=new_learner_id(),
        agency_id=row["agencyId"],
        doc_id=row["docId"],
        first_name=row["firstName"],
        last_name=row["lastName"],
        date_of_birth=row["dateOfBirth"],
        location_id=row["locationId"],
        facility_id=row["facilityId"],
        created_at=clock.utc_now(),
        created_by=upload.confirmed_by or upload.created_by,
        upload_id=upload.upload_id,
    )
    try:
        learner_store.insert_learner(learner, password_hash)
        return _Outcome(row, "CREATED", learner.learner_id, generated)
    except LearnerExists as exists:
        previous = learner_store.get_by_doc_id(row["agencyId"], row["docId"])
        if previous is not None and previous.upload_id == upload.upload_id:
            # Created by an earlier attempt of this part, whose generated password was lost with it: set a new one.
            if generated:
                learner_store.replace_password_hash(row["agencyId"], row["docId"], upload.upload_id, password_hash)
            return _Outcome(row, "CREATED", previous.learner_id, generated)
        return _Outcome(
            row,
            "FAILED",
            exists.existing["learnerId"],
            message=f"DOC ID {row['docId']} was given an account since the file was checked: nothing was created",
        )


def _move(row: dict[str, Any], upload: Upload, locations: dict[str, Location | None]) -> _Outcome:
    existing = row["existing"]
    if not upload.move_existing:
        return _Outcome(
            row,
            "SKIPPED",
            existing["learnerId"],
            message=f"Already has an account at facility {existing['facilityId']}: confirm with moveExisting to move",
        )
    current = learner_store.get_by_doc_id(row["agencyId"], row["docId"])
    if current is None:
        return _Outcome(row, "FAILED", existing["learnerId"], message="The learner no longer exists: nothing moved")
    if current.location_id == row["locationId"]:
        if current.history and current.history[-1].upload_id == upload.upload_id:
            return _Outcome(row, "MOVED", current.learner_id)
        return _Outcome(row, "FAILED", current.learner_id, message="The learner is already at this location")
    if current.location_id != existing["locationId"]:
        return _Outcome(row, "FAILED", current.learner_id, message="The learner moved since the file was checked")
    if row["locationId"] not in locations:
        locations[row["locationId"]] = directory.get_location(row["locationId"])
    destination = locations[row["locationId"]]
    if destination is None or not destination.active:
        return _Outcome(
            row, "FAILED", current.learner_id, message="The destination location no longer accepts learners"
        )
    move = move_of(current, destination, clock.utc_now(), upload.confirmed_by or upload.created_by, upload.upload_id)
    try:
        learner_store.move_learner(current, destination, move)
    except Conflict:
        # Refused on a retry whose first attempt was applied (its response lost): the move is ours, done once.
        after = learner_store.get_by_doc_id(row["agencyId"], row["docId"])
        if (
            after is None
            or after.location_id != row["locationId"]
            or not after.history
            or after.history[-1].upload_id != upload.upload_id
        ):
            raise
    return _Outcome(row, "MOVED", current.learner_id)


def finish_upload(upload_id: str) -> Upload | None:
    """If every chunk is done: write results.csv, set the final status, then delete the raw file and the plan."""
    upload = upload_store.get_upload(upload_id)
    if upload is None or upload.status is not UploadStatus.CREATING or upload.chunks_done < upload.chunks_total:
        return None
    results_key = keys.results_report_key(upload.facility_id, upload.upload_id)
    prefix = keys.plan_prefix(upload.facility_id, upload.upload_id)
    expected = sum(upload.counts.get(name, 0) for name in ("created", "moved", "skipped", "failed"))
    part_keys = sorted(objects.list_keys(prefix + "results/"))
    # A concurrent finisher may have deleted parts already: never write a results.csv that misses rows.
    if sum(keys.rows_in_result_part(key) for key in part_keys) != expected:
        return None
    _write_results(results_key, part_keys)
    status = UploadStatus.COMPLETED if upload.counts.get("failed", 0) == 0 else UploadStatus.COMPLETED_WITH_ERRORS
    finished = upload_store.transition(
        upload.upload_id,
        {UploadStatus.CREATING},
        status,
        resultReportKey=results_key,
        completedAt=clock.utc_now().isoformat(),
    )
    if finished is None:
        return None
    clean_up(finished)
    logger.info(
        "upload finished", extra={"upload_id": upload.upload_id, "status": status.value, "counts": upload.counts}
    )
    metrics.add_metric(name="UploadsCompleted", unit="Count", value=1)
    return finished


def fail_creation(upload_id: str) -> Upload | None:
    """A dead-lettered chunk: stop the upload as FAILED, with results.csv of every row done so far for staff."""
    upload = upload_store.get_upload(upload_id)
    if upload is None or upload.confirmed_by is None:
        return None
    if upload.status not in (UploadStatus.CREATING, UploadStatus.FAILED):
        return None
    if upload.status is UploadStatus.CREATING:
        done = sum(upload.counts.get(name, 0) for name in ("created", "moved"))
        reason = (
            f"Creating the learners stopped after several attempts, with {done} of "
            f"{upload.counts.get('valid', 0)} rows done: results.csv lists them; upload the other rows again"
        )
        failed = upload_store.transition(upload_id, {UploadStatus.CREATING}, UploadStatus.FAILED, reason=reason)
        if failed is None:
            return None
        upload = failed
        logger.warning("upload failed", extra={"upload_id": upload_id})
        metrics.add_metric(name="UploadsFailed", unit="Count", value=1)
    if upload.result_report_key is None:
        # Every part written so far, recorded or not: their learners exist, so staff need their passwords.
        results_key = keys.results_report_key(upload.facility_id, upload.upload_id)
        parts = sorted(objects.list_keys(keys.plan_prefix(upload.facility_id, upload_id) + "results/"))
        _write_results(results_key, parts)
        reported = upload_store.transition(
            upload_id, {UploadStatus.FAILED}, UploadStatus.FAILED, resultReportKey=results_key
        )
        upload = reported or upload
    clean_up(upload)
    return upload


def _write_results(results_key: str, part_keys: list[str]) -> None:
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
        out.write("\ufeff".encode())
        out.write((",".join(RESULT_COLUMNS) + "\r\n").encode())
        for key in part_keys:
            out.write(objects.read_bytes(key))
        out.seek(0)
        objects.upload_file(results_key, out)


def clean_up(upload: Upload) -> None:
    """Delete what a finished upload leaves behind: the raw file (it holds passwords) and the plan."""
    objects.delete_keys([upload.object_key])
    objects.delete_prefix(keys.plan_prefix(upload.facility_id, upload.upload_id))
