"""Creating an upload's plan: chunks fanned out over SQS, rows created, moved or reactivated exactly once, results
assembled.

Each chunk is processed in parts of PART_SIZE rows. A part's audit entries (keyed by upload and line) are filed, then
its counts recorded once (conditional on the upload's set of done parts; intake.dal.uploads.record_part), and every row
is a conditional write, so a retried or duplicated message neither creates a learner twice nor counts it twice. The
worker that records a chunk's last part and finds every chunk done finishes the upload: results.csv, then the raw
file and the plan are deleted, then the final status.

No plaintext password is kept outside the with-passwords results: the plan holds given passwords sealed with the
upload's data key (KMS envelope encryption), a generated password is derived from that key and the row's line (the
same on every attempt, so a retried part never changes an issued password), and result parts hold them sealed too.
results.csv (reports/, what everyone and the SFTP login read) has no passwords; the copy with generated passwords
lives under passwords/ for RESULT_PASSWORDS_HOURS, for the staff member who confirmed.

A REACTIVATE row (re-entry: the DOC ID is an inactive learner's) brings that learner back at the row's location with
the row's given or generated password, exactly as a create would issue it. Its history entries carry the upload's
id, so a retried part recognises its own reactivation and neither writes again nor issues another password.

A sync's UPDATE and DEACTIVATE entries are each one conditional write with no read before it, applied only if the
learner is still at the version the planner saw (so never over a change made since: CHANGED_SINCE_PLAN, counted
failed). They need no password and no hash. Their history entry (EDITED with the fields, or DEACTIVATED) carries the
upload's id: a retry's write is refused by the version its first attempt moved on, changing nothing, and the read
after the refusal finds the upload's own entry, so the row is reported UPDATED or DEACTIVATED again.
"""

from __future__ import annotations

import csv
import io
import secrets
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO, cast

from intake import audit, clock, learner_creation, passwords
from intake.bulk import keys, lifecycle
from intake.bulk.events import CreationMessage
from intake.bulk.reports import ReportWriter, neutralise
from intake.bulk.types import CREATE, DEACTIVATE, MOVE, REACTIVATE, UPDATE, ExistingLearner, PlanEntry, plan_chunk_of
from intake.dal import keys as key_store
from intake.dal import objects, queues
from intake.dal import uploads as upload_store
from intake.domain import (
    COUNT_NAMES,
    PLAN_COUNT_NAMES,
    AuditEntry,
    HistoryKind,
    Learner,
    LearnerEdit,
    LearnerStatus,
    Location,
    Upload,
    UploadStatus,
    history_entry,
    move_of,
)
from intake.errors import Conflict, LearnerExists
from intake.learner_creation import STORE, Hasher, LearnerRepository
from intake.observability import logger, metrics
from intake.password_rules import blank_password

PART_SIZE = 50
# What creation counts, one of them per row: created, moved, reactivated, updated, deactivated, skipped, failed.
OUTCOME_COUNTS = COUNT_NAMES[len(PLAN_COUNT_NAMES) :]
CHANGED_SINCE_PLAN = "CHANGED_SINCE_PLAN"  # a sync's UPDATE or DEACTIVATE refused: the learner changed since planning
# The count of an outcome whose name is not its count's.
_COUNTED_AS = {CHANGED_SINCE_PLAN: "failed"}
# The outcomes whose row's location is where the learner is now (the others report where it was).
_AT_ROW_LOCATION = frozenset({"CREATED", "MOVED", "REACTIVATED", "UPDATED", "DEACTIVATED"})
_EDIT_FIELDS = ("firstName", "lastName", "dateOfBirth", "locationId")
FINISHED = frozenset({UploadStatus.COMPLETED, UploadStatus.COMPLETED_WITH_ERRORS})
HAND_BACK_MARGIN_MS = 15_000
# Rows whose password is hashed ahead, in the hashing thread, while the row before them is applied.
HASH_AHEAD = 2
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
REACTIVATED_MEANWHILE_MESSAGE = (
    "The learner was reactivated or changed by someone else since the file was checked: nothing was changed"
)
DEACTIVATED_MEANWHILE_MESSAGE = (
    "The learner was deactivated since the file was checked: nothing moved; upload the row again to reactivate it here"
)
CHANGED_SINCE_PLAN_MESSAGE = (
    "The learner was changed since the file was checked (edited, moved, deactivated, reactivated or removed): "
    "nothing was changed; check the learner, then sync the roster again"
)
UNREADABLE_SEAL_MESSAGE = (
    "The password of this row could not be read back from the checked file: nothing was created; upload the row again"
)


def begin_creation(
    upload: Upload,
    skip_invalid_rows: bool,
    move_existing: bool,
    confirmed_by: str,
    allow_mass_deactivation: bool | None = None,
) -> Upload | None:
    """Move a confirmable upload to CREATING and fan its plan out; None if it was not confirmable any more."""
    confirmed_at = clock.utc_now()
    started = lifecycle.start_creating(
        upload,
        skip_invalid_rows=skip_invalid_rows,
        move_existing=move_existing,
        confirmed_by=confirmed_by,
        confirmed_at=confirmed_at,
        allow_mass_deactivation=allow_mass_deactivation,
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
    """One message per plan chunk to the creation queue; for an empty plan one message all the same, whose worker
    finishes the upload (results.csv, the final status, the clean-up): the confirm may come from the API, whose role
    writes no report and may not touch incoming/."""
    queues.send_creation_messages(
        [CreationMessage(uploadId=upload.upload_id, chunk=chunk) for chunk in range(max(upload.chunks_total, 1))]
    )


@dataclass
class _Outcome:
    row: PlanEntry
    outcome: str
    learner_id: str = ""
    password: str = ""
    message: str = ""
    created: Learner | None = None  # a CREATED row's learner, as this row created it (for its audit entry)


def process_chunk(upload_id: str, chunk: int, start: int, remaining_ms: Callable[[], int]) -> None:
    """Create or move the rows of one chunk from `start`, part by part; hand the rest back if time runs short."""
    upload = upload_store.get_upload(upload_id)
    if upload is not None and upload.status in FINISHED:
        clean_up(upload)  # a finisher that stopped between its status change and its deletes
    if upload is None or upload.status is not UploadStatus.CREATING:
        logger.info("chunk skipped: upload not creating", extra={"upload_id": upload_id, "chunk": chunk})
        return
    if upload.chunks_total == 0:  # an empty plan's one message (fan_out): nothing to create, the upload finishes
        finish_upload(upload_id)
        return
    rows = plan_chunk_of(objects.get_json(keys.plan_chunk_key(upload.facility_id, upload_id, chunk)))
    data_key = _data_key(upload)  # one kms:Decrypt per chunk message
    locations: dict[str, Location | None] = {}
    with HashesAhead(rows, upload, locations, data_key) as ahead:
        for part_start in range(start, len(rows), PART_SIZE):
            if part_start > start and remaining_ms() < HAND_BACK_MARGIN_MS:
                queues.send_creation_messages([CreationMessage(uploadId=upload_id, chunk=chunk, start=part_start)])
                logger.info("chunk handed back", extra={"upload_id": upload_id, "chunk": chunk, "start": part_start})
                return
            outcomes = ahead.apply(part_start, min(part_start + PART_SIZE, len(rows)))
            _record(upload, chunk, part_start, outcomes, data_key, finishes_chunk=part_start + PART_SIZE >= len(rows))


_pools = threading.local()


def _hashing_pool() -> ThreadPoolExecutor:
    """The calling thread's hashing thread, made on its first chunk and kept for the next ones (a Lambda has one
    calling thread; two deliveries run side by side in one process, as tests do, never wait on each other's hashes).
    It ends with its calling thread: the pool is then collected, which wakes its thread to exit."""
    pool: ThreadPoolExecutor | None = getattr(_pools, "pool", None)
    if pool is None:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-hash")
        _pools.pool = pool
    return pool


class HashesAhead:
    """A chunk's rows applied in order, one at a time, with the Argon2id hashes of the next HASH_AHEAD rows made in
    the hashing thread meanwhile (argon2 releases the GIL), so that hashing overlaps this thread's waits on DynamoDB
    and S3.

    Hashing ahead changes nothing a row does: a row's password is derived (data key and line) or given, so the one
    hashed ahead is the one the row will hash, and a row uses a hash made ahead only for that very password (else it
    hashes its own, as before). A hash made for a row that needs none (it failed, or an earlier attempt did its work)
    is dropped unread; one whose hashing raised raises in the row that uses it, where hashing in line would have. No
    storage is read ahead: a row is hashed ahead only once its facility's rule is known (read by an earlier row).
    """

    def __init__(
        self,
        rows: Sequence[PlanEntry],
        upload: Upload,
        locations: dict[str, Location | None],
        data_key: bytes | None,
        repository: LearnerRepository = STORE,
    ) -> None:
        self._rows = rows
        self._upload = upload
        self._locations = locations
        self._data_key = data_key
        self._repository = repository
        self._considered = 0  # rows before this one were hashed ahead, or need no hash made ahead
        self._made: dict[int, tuple[str, Future[str]]] = {}  # row index: (password, its hash on the way)
        self._derived: dict[int, tuple[str, str]] = {}  # row index: its (given, generated), worked out to hash it

    def __enter__(self) -> HashesAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def apply(self, first: int, stop: int) -> list[_Outcome]:
        """The outcomes of rows[first:stop], applied in order (apply_entry), with hashes made ahead."""
        outcomes: list[_Outcome] = []
        for index in range(first, stop):
            self.hash_after(index)
            row = self._rows[index]
            outcomes.append(
                apply_entry(
                    row,
                    self._upload,
                    self._locations,
                    self._data_key,
                    self._repository,
                    hasher=self.hasher(index),
                    derived=self._derived.pop(index, None),
                )
            )
        return outcomes

    def hash_after(self, index: int) -> None:
        """Drop the hashes made for rows before `index`; start hashing the next rows after it that need one."""
        for dropped in [i for i in self._made if i < index]:
            self._made.pop(dropped)[1].cancel()
        for dropped in [i for i in self._derived if i < index]:
            del self._derived[dropped]
        self._considered = max(self._considered, index + 1)
        stop = min(index + 1 + HASH_AHEAD, len(self._rows))
        while self._considered < stop:
            row = self._rows[self._considered]
            if row.action not in (CREATE, REACTIVATE):
                self._considered += 1
                continue
            if self._upload.facility_id not in self._locations:
                return  # its password rule is not known yet: tried again at the next row
            password = self._password_of(self._considered, row)
            if password:
                try:
                    self._made[self._considered] = (password, _hashing_pool().submit(passwords.hash_password, password))
                except RuntimeError:  # the pool is shut down (the interpreter is exiting): the row hashes in line
                    return
            self._considered += 1

    def hasher(self, index: int) -> Hasher:
        """How row `index` hashes a password: with the hash made ahead for it if it is of that password."""

        def hash_password(password: str) -> str:
            self.hash_after(index)  # the row may have just read the facility: hash the next ones meanwhile
            made = self._made.pop(index, None)
            if made is not None and made[0] == password:
                return made[1].result()
            if made is not None:
                made[1].cancel()
            return passwords.hash_password(password)

        return hash_password

    def close(self) -> None:
        """Drop every hash made ahead and not used (a hand-back, the chunk's end, or its error)."""
        for _, future in self._made.values():
            future.cancel()
        self._made.clear()
        self._derived.clear()

    def _password_of(self, index: int, row: PlanEntry) -> str:
        """The password the row will hash if it needs one ('' if it cannot be told: the row will say why). Its
        (given, generated) pair is kept for the row, which then does not derive it again (the same facility, from the
        chunk's cache, and the same data key and line: the same pair)."""
        if self._data_key is None and not row.password:
            return ""  # a plan made before plans were sealed generates at random: the row's own password is another
        facility = self._locations[self._upload.facility_id]
        try:
            given, generated = _row_password(row, self._upload, facility, self._data_key)
        except Exception:  # a broken seal, say: raised or handled when the row itself meets it, not here
            return ""
        self._derived[index] = (given, generated)
        return given or generated


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
    counts = dict.fromkeys(OUTCOME_COUNTS, 0)
    for outcome in outcomes:
        counts[_COUNTED_AS.get(outcome.outcome, outcome.outcome.lower())] += 1
    entries = _audit_entries(upload, outcomes)
    recorded = upload_store.record_part(upload.upload_id, f"{chunk}:{part_start}", counts, finishes_chunk, entries)
    metrics.add_metric(name="LearnersCreated", unit="Count", value=counts["created"])
    if recorded is None:
        logger.info("part already recorded", extra={"upload_id": upload.upload_id, "chunk": chunk})
    if recorded is None or recorded.chunks_done >= recorded.chunks_total:
        finish_upload(upload.upload_id)


def _audit_entries(upload: Upload, outcomes: list[_Outcome]) -> list[AuditEntry]:
    """One entry per created, moved, reactivated, updated or deactivated row, keyed by upload and line so a retried
    part overwrites its own (a move or a reactivation is filed under the facility the learner was at and the one it
    is at now; a sync's update or deactivation under the upload's facility). Ids and field names only."""
    at = datetime.fromisoformat(upload.confirmed_at) if upload.confirmed_at else clock.utc_now()
    actor = upload.confirmed_by or upload.created_by
    entries: list[AuditEntry] = []
    for o in outcomes:
        key = f"{upload.upload_id}:{o.row.line:07d}"
        if o.outcome == "CREATED" and o.created is not None:
            entries += learner_creation.creation_audit(o.created, at=at, key=key)
        elif o.outcome in ("MOVED", "REACTIVATED"):
            row, existing = o.row, _existing(o.row)
            entries += audit.entries_for(
                actor,
                "LEARNER_MOVED" if o.outcome == "MOVED" else "LEARNER_REACTIVATED",
                "learner",
                o.learner_id,
                scopes=[existing.facility_id, row.facility_id],
                agency_id=row.agency_id,
                facility_id=row.facility_id,
                details={
                    "uploadId": upload.upload_id,
                    "locationId": row.location_id,
                    "fromLocationId": existing.location_id,
                },
                at=at,
                key=key,
            )
        elif o.outcome in ("UPDATED", "DEACTIVATED"):
            details: audit.Details = {"uploadId": upload.upload_id}
            if o.outcome == "UPDATED":
                details["fields"] = ",".join(name for name in _EDIT_FIELDS if name in o.row.changed)
            entries += audit.entries_for(
                actor,
                "LEARNER_UPDATED" if o.outcome == "UPDATED" else "LEARNER_DEACTIVATED",
                "learner",
                o.learner_id,
                scopes=[upload.facility_id],
                agency_id=o.row.agency_id,
                facility_id=upload.facility_id,
                details=details,
                at=at,
                key=key,
            )
    return entries


def _existing(entry: PlanEntry) -> ExistingLearner:
    if entry.existing is None:
        raise ValueError(f"plan entry of line {entry.line} is a {entry.action} without the learner it is about")
    return entry.existing


def _csv(upload_id: str, outcomes: list[_Outcome], data_key: bytes | None) -> bytes:
    """A result part; its password cells sealed with the upload's data key (no plaintext password under plans/)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for o in outcomes:
        row = o.row
        password = o.password
        if password and data_key is not None:
            password = passwords.seal(data_key, password, keys.result_password_context(upload_id, row.line))
        if o.outcome in _AT_ROW_LOCATION:
            location_id = row.location_id
        else:
            location_id = row.existing.location_id if row.existing is not None else ""
        writer.writerow(
            [
                row.line,
                neutralise(row.request_id),
                neutralise(row.doc_id),
                neutralise(row.first_name),
                neutralise(row.last_name),
                o.learner_id,
                location_id,
                o.outcome,
                password,
                neutralise(o.message),
            ]
        )
    return out.getvalue().encode("utf-8")


def apply_entry(
    row: PlanEntry,
    upload: Upload,
    locations: dict[str, Location | None],
    data_key: bytes | None,
    repository: LearnerRepository = STORE,
    *,
    hasher: Hasher | None = None,
    derived: tuple[str, str] | None = None,
) -> _Outcome:
    """Create, move, reactivate, update or deactivate one plan entry's learner, once (a repeat finds its own earlier
    attempt); what came of it.

    `locations` caches the locations read for a chunk; `repository` is where learners and locations live; `hasher`
    hashes the row's password (passwords.hash_password by default; a chunk's HashesAhead.hasher); `derived` is the
    row's (given, generated) password pair if the caller already worked it out (_row_password with the facility of
    `locations` and this data key), so that it is not derived twice.
    """
    try:
        if row.action == MOVE:
            return _move(row, upload, locations, repository)
        if row.action == REACTIVATE:
            return _reactivate(row, upload, locations, data_key, repository, hasher, derived)
        if row.action == UPDATE:
            return _update(row, upload, locations, repository)
        if row.action == DEACTIVATE:
            return _deactivate(row, upload, repository)
        location = _location(row.location_id, locations, repository)
        if location is None or not location.active:
            return _Outcome(row, "FAILED", message="The location was deactivated since the file was checked")
        facility = _location(upload.facility_id, locations, repository)
        if (misplaced := _outside_upload(row, upload, location, facility)) is not None:
            return misplaced
        try:
            given, generated = derived or _row_password(row, upload, facility, data_key)
        except passwords.SealBroken:
            return _unreadable(row, upload)
        return _create(row, upload, given, generated, repository, hasher)
    except Conflict as exc:
        return _Outcome(row, "FAILED", message=exc.message)


def _row_password(row: PlanEntry, upload: Upload, facility: Location | None, data_key: bytes | None) -> tuple[str, str]:
    """(given, generated): the row's given password, or else the one generated for it (derived from the upload's data
    key and the line, so the same on every attempt). SealBroken if the given one cannot be opened."""
    given = _given_password(row, upload, data_key)
    if given:
        return given, ""
    choose = (
        passwords.derived_chooser(data_key, keys.generated_password_label(upload.upload_id, row.line))
        if data_key is not None
        else secrets.choice
    )
    rule = facility.password_rule if facility is not None else None
    generated = blank_password(
        rule, row.first_name, row.last_name, row.doc_id, choose=choose, facility_id=upload.facility_id
    )
    return "", generated


def _unreadable(row: PlanEntry, upload: Upload, learner_id: str = "") -> _Outcome:
    logger.warning("sealed password unreadable", extra={"upload_id": upload.upload_id, "line": row.line})
    return _Outcome(row, "FAILED", learner_id, message=UNREADABLE_SEAL_MESSAGE)


def _location(
    location_id: str, locations: dict[str, Location | None], repository: LearnerRepository
) -> Location | None:
    if location_id not in locations:
        locations[location_id] = repository.get_location(location_id)
    return locations[location_id]


def _outside_upload(row: PlanEntry, upload: Upload, location: Location, facility: Location | None) -> _Outcome | None:
    """A row whose location is not in the upload's own (active) facility fails, whatever the plan says."""
    if location.facility_id != upload.facility_id or row.facility_id != upload.facility_id:
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


def _given_password(row: PlanEntry, upload: Upload, data_key: bytes | None) -> str:
    """The row's given password ('' if blank), opened from the plan's sealed copy."""
    if row.sealed_password:
        if data_key is None:
            raise passwords.SealBroken("no data key")
        return passwords.unseal(data_key, row.sealed_password, keys.given_password_context(upload.upload_id, row.line))
    return row.password or ""  # a plan written before plans were sealed


def _create(
    row: PlanEntry,
    upload: Upload,
    given: str,
    generated: str,
    repository: LearnerRepository,
    hasher: Hasher | None = None,
) -> _Outcome:
    """Create the row's learner once. The generated password is the same on every attempt (derived from the
    upload's data key and the line), so a retried or concurrently redelivered part never changes an issued one."""
    learner = learner_creation.new_learner(
        agency_id=row.agency_id,
        doc_id=row.doc_id,
        first_name=row.first_name,
        last_name=row.last_name,
        date_of_birth=row.date_of_birth,
        location_id=row.location_id,
        facility_id=row.facility_id,
        created_by=upload.confirmed_by or upload.created_by,
        upload_id=upload.upload_id,
    )
    try:
        learner = learner_creation.insert(learner, given or generated, repository, hasher=hasher)
        return _Outcome(row, "CREATED", learner.learner_id, generated, created=learner)
    except LearnerExists as exists:
        previous = repository.get_by_doc_id(row.agency_id, row.doc_id)
        if previous is not None and previous.upload_id == upload.upload_id:
            # Created by an earlier (or a concurrent) attempt of this row: the same password, already hashed.
            ours = learner.model_copy(update={"learner_id": previous.learner_id, "username": previous.username})
            return _Outcome(row, "CREATED", previous.learner_id, generated, created=ours)
        return _Outcome(
            row,
            "FAILED",
            exists.existing["learnerId"],
            message=f"DOC ID {row.doc_id} was given an account since the file was checked: nothing was created",
        )


def _move(
    row: PlanEntry, upload: Upload, locations: dict[str, Location | None], repository: LearnerRepository
) -> _Outcome:
    existing = _existing(row)
    if not upload.move_existing:
        return _Outcome(
            row,
            "SKIPPED",
            existing.learner_id,
            message=f"Already has an account at facility {existing.facility_id}: confirm with moveExisting to move",
        )
    current = repository.get_by_doc_id(row.agency_id, row.doc_id)
    if current is None:
        return _Outcome(row, "FAILED", existing.learner_id, message="The learner no longer exists: nothing moved")
    if current.location_id == row.location_id:
        if current.history and current.history[-1].upload_id == upload.upload_id:
            return _Outcome(row, "MOVED", current.learner_id)
        return _Outcome(row, "FAILED", current.learner_id, message="The learner is already at this location")
    if current.location_id != existing.location_id:
        return _Outcome(row, "FAILED", current.learner_id, message="The learner moved since the file was checked")
    if current.status is LearnerStatus.INACTIVE:  # a move would leave it inactive; re-entry is planned on its own
        return _Outcome(row, "FAILED", current.learner_id, message=DEACTIVATED_MEANWHILE_MESSAGE)
    destination = _location(row.location_id, locations, repository)
    if destination is None or not destination.active:
        return _Outcome(
            row, "FAILED", current.learner_id, message="The destination location no longer accepts learners"
        )
    facility = _location(upload.facility_id, locations, repository)
    if (misplaced := _outside_upload(row, upload, destination, facility)) is not None:
        misplaced.learner_id = current.learner_id
        return misplaced
    move = move_of(current, destination, clock.utc_now(), upload.confirmed_by or upload.created_by, upload.upload_id)
    try:
        repository.move_learner(current, destination, move)
    except Conflict:
        # Refused on a retry whose first attempt was applied (its response lost): the move is ours, done once.
        after = repository.get_by_doc_id(row.agency_id, row.doc_id)
        if (
            after is None
            or after.location_id != row.location_id
            or not after.history
            or after.history[-1].upload_id != upload.upload_id
        ):
            raise
    return _Outcome(row, "MOVED", current.learner_id)


def _reactivate(
    row: PlanEntry,
    upload: Upload,
    locations: dict[str, Location | None],
    data_key: bytes | None,
    repository: LearnerRepository,
    hasher: Hasher | None = None,
    derived: tuple[str, str] | None = None,
) -> _Outcome:
    """Bring the row's inactive learner back at the row's location with a new password, once.

    The learner must still be the one planned, inactive and where the planner saw it; the store's conditional
    update (status INACTIVE, same learnerId) refuses one reactivated meanwhile. A retry finds its own work by the
    upload's id on the learner's REACTIVATED entry, and reports the same password (given, or derived again).
    """
    existing = _existing(row)
    current = repository.get_by_doc_id(row.agency_id, row.doc_id)
    if current is None or current.learner_id != existing.learner_id:
        return _Outcome(row, "FAILED", existing.learner_id, message="The learner no longer exists: nothing was changed")
    facility = _location(upload.facility_id, locations, repository)
    try:
        given, generated = derived or _row_password(row, upload, facility, data_key)
    except passwords.SealBroken:
        return _unreadable(row, upload, current.learner_id)
    if _reactivated_by(current, upload.upload_id):  # an earlier attempt of this row did it (its answer was lost)
        return _Outcome(row, "REACTIVATED", current.learner_id, generated)
    if current.status is not LearnerStatus.INACTIVE:
        return _Outcome(row, "FAILED", current.learner_id, message=REACTIVATED_MEANWHILE_MESSAGE)
    if current.location_id != existing.location_id:
        return _Outcome(
            row,
            "FAILED",
            current.learner_id,
            message="The learner was moved since the file was checked: nothing was changed; upload the row again",
        )
    destination = _location(row.location_id, locations, repository)
    if destination is None or not destination.active:
        return _Outcome(
            row, "FAILED", current.learner_id, message="The location was deactivated since the file was checked"
        )
    if (misplaced := _outside_upload(row, upload, destination, facility)) is not None:
        misplaced.learner_id = current.learner_id
        return misplaced
    by = upload.confirmed_by or upload.created_by
    try:
        learner_creation.reactivate(
            current, destination, given or generated, by, upload.upload_id, repository, hasher=hasher
        )
    except Conflict:
        # Refused: reactivated or changed meanwhile, by someone else or by a concurrent delivery of this very part.
        after = repository.get_by_doc_id(row.agency_id, row.doc_id)
        if after is None or not _reactivated_by(after, upload.upload_id):
            return _Outcome(row, "FAILED", current.learner_id, message=REACTIVATED_MEANWHILE_MESSAGE)
    return _Outcome(row, "REACTIVATED", current.learner_id, generated)


def _reactivated_by(learner: Learner, upload_id: str) -> bool:
    """Whether this upload reactivated the learner (upload ids are unique, and a file names a DOC ID once)."""
    return any(e.kind is HistoryKind.REACTIVATED and e.upload_id == upload_id for e in learner.history)


def _changed_by(learner: Learner, kind: HistoryKind, upload_id: str) -> bool:
    """Whether this upload made a change of this kind to the learner (a sync names a learner once)."""
    return any(e.kind is kind and e.upload_id == upload_id for e in learner.history)


def _as_planned(row: PlanEntry, existing: ExistingLearner) -> Learner:
    """The learner as the planner saw it, made from its plan entry (never stored: a conditional write at its version
    uses only its key, id, facility, version and names, so the write needs no read first)."""
    return Learner(
        learner_id=existing.learner_id,
        agency_id=row.agency_id,
        doc_id=row.doc_id,
        first_name=row.first_name,
        last_name=row.last_name,
        date_of_birth=row.date_of_birth,
        location_id=existing.location_id,
        facility_id=existing.facility_id,
        created_at=_PLANNED_AT,
        created_by="",
        status=LearnerStatus.ACTIVE,
        version=existing.version,
    )


_PLANNED_AT = datetime(1970, 1, 1, tzinfo=UTC)


def _stale(row: PlanEntry, learner_id: str) -> _Outcome:
    return _Outcome(row, CHANGED_SINCE_PLAN, learner_id, message=CHANGED_SINCE_PLAN_MESSAGE)


def _not_of_this_upload(row: PlanEntry, existing: ExistingLearner) -> _Outcome:
    return _Outcome(
        row,
        "FAILED",
        existing.learner_id,
        message=f"The plan of this row is not a change of a learner of this upload's facility ({row.action}): "
        "nothing was changed",
    )


def _done_before_or_stale(
    row: PlanEntry, kind: HistoryKind, outcome: str, upload: Upload, repository: LearnerRepository
) -> _Outcome:
    """After a refused write (or before reporting a row that cannot be applied any more): the row's outcome if an
    earlier attempt of this upload made the change (its answer lost, a redelivered part), else CHANGED_SINCE_PLAN."""
    existing = _existing(row)
    current = repository.get_by_doc_id(row.agency_id, row.doc_id)
    if (
        current is not None
        and current.learner_id == existing.learner_id
        and _changed_by(current, kind, upload.upload_id)
    ):
        return _Outcome(row, outcome, current.learner_id)
    return _stale(row, existing.learner_id)


def _update(
    row: PlanEntry, upload: Upload, locations: dict[str, Location | None], repository: LearnerRepository
) -> _Outcome:
    """A sync's UPDATE: the row's changed fields (names, date of birth, housing unit within the facility) in one
    write conditional on the planned version, recorded as an EDITED entry with the fields and the upload's id (as
    PATCH /learners records it: a housing unit change is an edit, not a move). The write goes first, with no read: a
    refused one (changed since, or this upload's own earlier attempt) is then read to tell which."""
    existing = _existing(row)
    fields = tuple(name for name in _EDIT_FIELDS if name in row.changed)
    if not fields or row.facility_id != upload.facility_id or existing.facility_id != upload.facility_id:
        return _not_of_this_upload(row, existing)
    if existing.version == 0:  # planned before versions were kept: never applied blind
        return _stale(row, existing.learner_id)
    destination: Location | None = None
    if "locationId" in fields:
        destination = _location(row.location_id, locations, repository)
        if destination is None or not destination.active or destination.facility_id != upload.facility_id:
            done = _done_before_or_stale(row, HistoryKind.EDITED, "UPDATED", upload, repository)
            if done.outcome == "UPDATED":
                return done
            return _Outcome(
                row,
                "FAILED",
                existing.learner_id,
                message=f"Location {row.location_id} is no longer an active housing unit of facility "
                f"{upload.facility_id}: nothing was changed",
            )
    change = LearnerEdit(
        first_name=row.first_name if "firstName" in fields else None,
        last_name=row.last_name if "lastName" in fields else None,
        date_of_birth=row.date_of_birth if "dateOfBirth" in fields else None,
        location_id=destination.location_id if destination is not None else None,
    )
    by = upload.confirmed_by or upload.created_by
    entry = history_entry(HistoryKind.EDITED, clock.utc_now(), by, upload_id=upload.upload_id, fields=fields)
    if repository.update_at_version(_as_planned(row, existing), change, entry, destination):
        return _Outcome(row, "UPDATED", existing.learner_id)
    return _done_before_or_stale(row, HistoryKind.EDITED, "UPDATED", upload, repository)


def _deactivate(row: PlanEntry, upload: Upload, repository: LearnerRepository) -> _Outcome:
    """A sync's DEACTIVATE (an active learner missing from the roster, the entry holding its stored details):
    INACTIVE in one write conditional on the planned version, status ACTIVE and the facility, recorded as a
    DEACTIVATED entry with the upload's id. As for an update, the write goes first and a refusal is read."""
    existing = _existing(row)
    if row.facility_id != upload.facility_id or existing.facility_id != upload.facility_id:
        return _not_of_this_upload(row, existing)
    if existing.version == 0:  # planned before versions were kept: never applied blind
        return _stale(row, existing.learner_id)
    by = upload.confirmed_by or upload.created_by
    entry = history_entry(HistoryKind.DEACTIVATED, clock.utc_now(), by, upload_id=upload.upload_id)
    if repository.set_status_at_version(_as_planned(row, existing), LearnerStatus.INACTIVE, entry):
        return _Outcome(row, "DEACTIVATED", existing.learner_id)
    return _done_before_or_stale(row, HistoryKind.DEACTIVATED, "DEACTIVATED", upload, repository)


def finish_upload(upload_id: str) -> Upload | None:
    """If every chunk is done: write results.csv, set the final status, then delete the raw file and the plan."""
    upload = upload_store.get_upload(upload_id)
    if upload is None or upload.status is not UploadStatus.CREATING or upload.chunks_done < upload.chunks_total:
        return None
    results_key = keys.results_report_key(upload.facility_id, upload.upload_id)
    prefix = keys.plan_prefix(upload.facility_id, upload.upload_id)
    expected = sum(upload.counts.get(name, 0) for name in OUTCOME_COUNTS)
    part_keys = sorted(objects.list_keys(prefix + "results/"))
    # A concurrent finisher may have deleted parts already: never write a results.csv that misses rows.
    if sum(keys.rows_in_result_part(key) for key in part_keys) != expected:
        return None
    now = clock.utc_now()
    passwords_key = _write_results(upload, part_keys)
    status = UploadStatus.COMPLETED if upload.counts.get("failed", 0) == 0 else UploadStatus.COMPLETED_WITH_ERRORS
    # The final status, then the raw file and the plan are deleted.
    finished = lifecycle.complete(upload, status, result_report_key=results_key, passwords_key=passwords_key, at=now)
    if finished is None:
        return None
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
        done = sum(upload.counts.get(name, 0) for name in ("created", "moved", "reactivated", "updated", "deactivated"))
        reason = (
            f"Creating the learners stopped after several attempts, with {done} of "
            f"{upload.counts.get('valid', 0)} rows done: results.csv lists them; upload the other rows again"
        )
        failed = lifecycle.fail_creation(upload, reason)
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
        reported = lifecycle.report_failure(upload, results_key, passwords_key, clock.utc_now())
        upload = reported or upload
    clean_up(upload)
    return upload


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
    lifecycle.clean_up(upload)
