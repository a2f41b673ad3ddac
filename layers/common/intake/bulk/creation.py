"""Creating an upload's plan: chunks fanned out over SQS, rows created or moved exactly once, results assembled.

Each chunk is processed in parts of PART_SIZE rows. A part's counts and its audit entries are recorded once (one
transaction, conditional on the upload's set of done parts), and every row is a conditional write, so a retried or
duplicated message neither creates a learner twice nor counts it twice. The worker that records a chunk's last part
and finds every chunk done finishes the upload: results.csv, then the raw file and the plan are deleted, then the
final status.

No plaintext password is kept outside the with-passwords results: the plan holds given passwords sealed with the
upload's data key (KMS envelope encryption), a generated password is derived from that key and the row's line (the
same on every attempt, so a retried part never changes an issued password), and result parts hold them sealed too.
results.csv (reports/, what everyone and the SFTP login read) has no passwords; the copy with generated passwords
lives under passwords/ for RESULT_PASSWORDS_HOURS, for the staff member who confirmed.
"""

from __future__ import annotations

import csv
import io
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO, cast

from intake import audit, clock, passwords
from intake.bulk import keys
from intake.bulk.events import CreationMessage
from intake.bulk.reports import ReportWriter, neutralise
from intake.dal import directory, objects, queues
from intake.dal import keys as key_store
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
PASSWORD_COLUMN = RESULT_COLUMNS.index("password")
# Generated passwords are for the staff member who confirmed, for this long (contract v2); then they are deleted.
RESULT_PASSWORDS_HOURS = 24
UNREADABLE_SEAL_MESSAGE = (
    "The password of this row could not be read back from the checked file: nothing was created; upload the row again"
)


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
        [CreationMessage(uploadId=upload.upload_id, chunk=chunk) for chunk in range(upload.chunks_total)]
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
    data_key = _data_key(upload)  # one kms:Decrypt per chunk message
    locations: dict[str, Location | None] = {}
    for part_start in range(start, len(rows), PART_SIZE):
        if part_start > start and remaining_ms() < HAND_BACK_MARGIN_MS:
            queues.send_creation_messages([CreationMessage(uploadId=upload_id, chunk=chunk, start=part_start)])
            logger.info("chunk handed back", extra={"upload_id": upload_id, "chunk": chunk, "start": part_start})
            return
        part_rows = rows[part_start : part_start + PART_SIZE]
        outcomes = [_apply(row, upload, locations, data_key) for row in part_rows]
        _record(upload, chunk, part_start, outcomes, data_key, finishes_chunk=part_start + PART_SIZE >= len(rows))


def _data_key(upload: Upload) -> bytes | None:
    """The plaintext of the upload's data key (None only for a plan made before plans were sealed)."""
    return key_store.open_data_key(upload.upload_id, upload.data_key) if upload.data_key else None


def _record(
    upload: Upload,
    chunk: int,
    part_start: int,
    outcomes: list[_Outcome],
    data_key: bytes | None,
    finishes_chunk: bool,
) -> None:
    part_key = keys.result_part_key(upload.facility_id, upload.upload_id, chunk, part_start, len(outcomes))
    objects.put_bytes(part_key, _csv(upload.upload_id, outcomes, data_key))
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


def _csv(upload_id: str, outcomes: list[_Outcome], data_key: bytes | None) -> bytes:
    """A result part; its password cells sealed with the upload's data key (no plaintext password under plans/)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for o in outcomes:
        row = o.row
        password = o.password
        if password and data_key is not None:
            password = passwords.seal(data_key, password, keys.result_password_context(upload_id, row["line"]))
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
                password,
                neutralise(o.message),
            ]
        )
    return out.getvalue().encode("utf-8")


def _apply(
    row: dict[str, Any], upload: Upload, locations: dict[str, Location | None], data_key: bytes | None
) -> _Outcome:
    try:
        if row["action"] == "MOVE":
            return _move(row, upload, locations)
        location = _location(row["locationId"], locations)
        if location is None or not location.active:
            return _Outcome(row, "FAILED", message="The location was deactivated since the file was checked")
        facility = _location(upload.facility_id, locations)
        if (misplaced := _outside_upload(row, upload, location, facility)) is not None:
            return misplaced
        try:
            given = _given_password(row, upload, data_key)
        except passwords.SealBroken:
            logger.warning("sealed password unreadable", extra={"upload_id": upload.upload_id, "line": row["line"]})
            return _Outcome(row, "FAILED", message=UNREADABLE_SEAL_MESSAGE)
        generated = ""
        if not given:
            choose = (
                passwords.derived_chooser(data_key, keys.generated_password_label(upload.upload_id, row["line"]))
                if data_key is not None
                else secrets.choice
            )
            rule = facility.password_rule if facility is not None else None
            generated = blank_password(
                rule, row["firstName"], row["lastName"], row["docId"], choose=choose, facility_id=upload.facility_id
            )
        return _create(row, upload, given, generated)
    except Conflict as exc:
        return _Outcome(row, "FAILED", message=exc.message)


def _location(location_id: str, locations: dict[str, Location | None]) -> Location | None:
    if location_id not in locations:
        locations[location_id] = directory.get_location(location_id)
    return locations[location_id]


def _outside_upload(
    row: dict[str, Any], upload: Upload, location: Location, facility: Location | None
) -> _Outcome | None:
    """A row whose location is not in the upload's own (active) facility fails, whatever the plan says."""
    if location.facility_id != upload.facility_id or row.get("facilityId") != upload.facility_id:
        return _Outcome(
            row,
            "FAILED",
            message=f"Location {location.location_id} is in facility {location.facility_id}, not in this upload's "
            f"facility {upload.facility_id}: nothing was done; put the row in an upload of facility "
            f"{location.facility_id}",
        )
    if facility is None or not facility.active:
        return _Outcome(row, "FAILED", message=f"Facility {upload.facility_id} no longer takes learners")
    return None


def _given_password(row: dict[str, Any], upload: Upload, data_key: bytes | None) -> str:
    """The row's given password ('' if blank), opened from the plan's sealed copy."""
    sealed = row.get("sealedPassword")
    if sealed:
        if data_key is None:
            raise passwords.SealBroken("no data key")
        return passwords.unseal(data_key, sealed, keys.given_password_context(upload.upload_id, row["line"]))
    return str(row.get("password") or "")  # a plan written before plans were sealed


def _create(row: dict[str, Any], upload: Upload, given: str, generated: str) -> _Outcome:
    """Create the row's learner once. The generated password is the same on every attempt (derived from the
    upload's data key and the line), so a retried or concurrently redelivered part never changes an issued one."""
    password_hash = passwords.hash_password(given or generated)
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
            # Created by an earlier (or a concurrent) attempt of this row: the same password, already hashed.
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
    destination = _location(row["locationId"], locations)
    if destination is None or not destination.active:
        return _Outcome(
            row, "FAILED", current.learner_id, message="The destination location no longer accepts learners"
        )
    if (misplaced := _outside_upload(row, upload, destination, _location(upload.facility_id, locations))) is not None:
        misplaced.learner_id = current.learner_id
        return misplaced
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
    now = clock.utc_now()
    passwords_key = _write_results(upload, part_keys)
    status = UploadStatus.COMPLETED if upload.counts.get("failed", 0) == 0 else UploadStatus.COMPLETED_WITH_ERRORS
    finished = upload_store.transition(
        upload.upload_id,
        {UploadStatus.CREATING},
        status,
        resultReportKey=results_key,
        completedAt=now.isoformat(),
        **_passwords_fields(passwords_key, now),
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
        passwords_key = _write_results(upload, parts)
        reported = upload_store.transition(
            upload_id,
            {UploadStatus.FAILED},
            UploadStatus.FAILED,
            resultReportKey=results_key,
            **_passwords_fields(passwords_key, clock.utc_now()),
        )
        upload = reported or upload
    clean_up(upload)
    return upload


def _passwords_fields(passwords_key: str | None, now: datetime) -> dict[str, str | None]:
    if passwords_key is None:
        return {}
    until = now + timedelta(hours=RESULT_PASSWORDS_HOURS)
    return {"resultPasswordsKey": passwords_key, "passwordsUntil": until.isoformat()}


def _write_results(upload: Upload, part_keys: list[str]) -> str | None:
    """results.csv of every part, without passwords (reports/, what everyone and SFTP see) and, if any row has a
    generated password, the same with them outside reports/ (SSE-KMS, for the confirmer); that copy's key or None."""
    data_key = _data_key(upload) if upload.data_key else None
    with (
        tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as plain,
        tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as secret,
    ):
        plain_writer = ReportWriter(cast(BinaryIO, plain), RESULT_COLUMNS)
        secret_writer = ReportWriter(cast(BinaryIO, secret), RESULT_COLUMNS)
        issued = 0
        for key in part_keys:
            for cells in csv.reader(io.StringIO(objects.read_bytes(key).decode("utf-8"), newline="")):
                password = _opened_password(upload, cells, data_key)
                issued += bool(password)
                # ReportWriter neutralises every cell, the password too (a format's output never starts a formula).
                secret_writer.write([*cells[:PASSWORD_COLUMN], password, *cells[PASSWORD_COLUMN + 1 :]])
                plain_writer.write([*cells[:PASSWORD_COLUMN], "", *cells[PASSWORD_COLUMN + 1 :]])
        plain.seek(0)
        objects.upload_file(keys.results_report_key(upload.facility_id, upload.upload_id), plain)
        if not issued:
            return None
        passwords_key = keys.result_passwords_key(upload.facility_id, upload.upload_id)
        secret.seek(0)
        objects.upload_file(passwords_key, secret)
    logger.info("results with passwords written", extra={"upload_id": upload.upload_id, "passwords": issued})
    return passwords_key


def _opened_password(upload: Upload, cells: list[str], data_key: bytes | None) -> str:
    sealed = cells[PASSWORD_COLUMN] if len(cells) > PASSWORD_COLUMN else ""
    if not sealed or data_key is None:
        return sealed  # blank, or a part written before parts were sealed
    try:
        return passwords.unseal(data_key, sealed, keys.result_password_context(upload.upload_id, int(cells[0])))
    except (passwords.SealBroken, ValueError):
        logger.warning("result password unreadable", extra={"upload_id": upload.upload_id, "line": cells[0]})
        return ""  # the learner exists; staff reset the password and print a card


def clean_up(upload: Upload) -> None:
    """Delete what a finished upload leaves behind: the raw file (it holds passwords) and the plan."""
    objects.delete_keys([upload.object_key])
    objects.delete_prefix(keys.plan_prefix(upload.facility_id, upload.upload_id))
