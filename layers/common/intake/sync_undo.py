"""Undoing a sync's deactivations: POST /uploads/{uploadId}/undo-deactivations (issue 17, contract "Uploads: create
or sync").

Which learners: the upload's own LEARNER_DEACTIVATED audit entries. A part's transaction files them with its counts
(keyed f"{uploadId}:{line}" at the upload's confirm instant, under the upload's facility), exactly once per learner
the sync deactivated, and the audit trail is kept for good: the plan chunks and result parts are deleted when the
upload finishes, and reports/ expires after 7 days, long before the 30 days of the undo. One Query on the facility's
audit partition (a key prefix and an action filter) finds them.

Each is reactivated (one conditional write: still INACTIVE, in the facility, at the version read) only if its last
change is still that upload's DEACTIVATED entry; otherwise it is skipped. The history entry REACTIVATED carries the
upload's id, by the requestor, so a repeat recognises a learner this undo reactivated and counts it again without
writing. The first call records its instant on the upload (deactivationsUndoneAt): every audit entry of the undo is
keyed from it, so a repeat (or a retry after a crash) files the same entries, and once the summary entry
UPLOAD_DEACTIVATIONS_UNDONE is stored (it is written last) a repeat writes nothing at all.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from intake import audit, authz, clock
from intake.dal import uploads as upload_store
from intake.domain import (
    UNDO_DEACTIVATIONS_DAYS,
    AuditEntry,
    HistoryKind,
    Learner,
    LearnerStatus,
    StaffMember,
    Upload,
    UploadMode,
    UploadStatus,
    history_entry,
)
from intake.errors import Conflict, NotFound, PermissionDenied
from intake.facility_service import get_facility
from intake.learner_creation import STORE, LearnerRepository
from intake.observability import logger, metrics

UNDO_THREADS = 8  # each learner is a read or two and at most one write, waiting on DynamoDB
FINISHED: Final = frozenset({UploadStatus.COMPLETED, UploadStatus.COMPLETED_WITH_ERRORS})
DEACTIVATED_ACTION = "LEARNER_DEACTIVATED"
UNDONE_ACTION = "UPLOAD_DEACTIVATIONS_UNDONE"

# What undoing the upload's deactivation of one learner takes.
REACTIVATE = "REACTIVATE"  # still as the sync left it: reactivate now
REACTIVATED = "REACTIVATED"  # this undo reactivated it already (a repeat)
SKIPPED = "SKIPPED"  # changed since (edited, moved, reactivated, reset, removed) or never deactivated by it


@dataclass(frozen=True, slots=True)
class UndoResult:
    reactivated: int
    skipped: int


def refusal(upload: Upload, now: datetime) -> str | None:
    """Why this upload's deactivations cannot be undone now (a 409's message), or None."""
    if upload.mode is not UploadMode.SYNC:
        return "Only a sync deactivates learners: this upload created them, so it has no deactivations to undo"
    if upload.status not in FINISHED:
        return (
            f"This upload is {upload.status.value}: its deactivations can be undone once it has completed "
            "(COMPLETED or COMPLETED_WITH_ERRORS)"
        )
    if upload.completed_at is None or now > datetime.fromisoformat(upload.completed_at) + timedelta(
        days=UNDO_DEACTIVATIONS_DAYS
    ):
        return (
            f"This upload completed more than {UNDO_DEACTIVATIONS_DAYS} days ago: its deactivations can no longer be "
            "undone; reactivate the learners one by one"
        )
    return None


def step_for(learner: Learner | None, upload: Upload) -> str:
    """REACTIVATE if the learner's last change is still this upload's DEACTIVATED entry (and it is inactive in the
    upload's facility), REACTIVATED if this undo reactivated it already, else SKIPPED."""
    if learner is None or learner.agency_id != upload.agency_id:
        return SKIPPED
    ours = [
        i
        for i, e in enumerate(learner.history)
        if e.kind is HistoryKind.DEACTIVATED and e.upload_id == upload.upload_id
    ]
    if not ours:
        return SKIPPED
    since = learner.history[ours[-1] + 1 :]
    if any(e.kind is HistoryKind.REACTIVATED and e.upload_id == upload.upload_id for e in since):
        return REACTIVATED
    if since or learner.status is not LearnerStatus.INACTIVE or learner.facility_id != upload.facility_id:
        return SKIPPED
    return REACTIVATE


def _undo_one(
    learner_id: str, upload: Upload, requestor: StaffMember, repository: LearnerRepository
) -> tuple[str, Learner | None]:
    """Undo the upload's deactivation of one learner: REACTIVATED (now or before) or SKIPPED, and the learner."""
    learner = repository.get_by_id(learner_id)
    step = step_for(learner, upload)
    if step != REACTIVATE or learner is None:
        return step, learner
    entry = history_entry(HistoryKind.REACTIVATED, clock.utc_now(), requestor.username, upload_id=upload.upload_id)
    if repository.set_status_at_version(learner, LearnerStatus.ACTIVE, entry):
        return REACTIVATED, learner
    # Refused: changed meanwhile, a concurrent undo did it, or a retry of this very write (its answer lost).
    after = repository.get_by_id(learner_id)
    return (REACTIVATED if step_for(after, upload) == REACTIVATED else SKIPPED), after


def _entries(
    upload: Upload, requestor: StaffMember, at: datetime, reactivated: list[Learner], skipped: int
) -> tuple[list[AuditEntry], list[AuditEntry]]:
    """(one LEARNER_REACTIVATED per learner, the UPLOAD_DEACTIVATIONS_UNDONE summary), keyed from the undo's
    first instant so a repeat files the same entries."""
    scope = [upload.facility_id]
    per_learner = [
        entry
        for learner in reactivated
        for entry in audit.entries_for(
            requestor.username,
            "LEARNER_REACTIVATED",
            "learner",
            learner.learner_id,
            scopes=scope,
            agency_id=upload.agency_id,
            facility_id=upload.facility_id,
            details={"uploadId": upload.upload_id, "undo": True},
            at=at,
            key=f"{upload.upload_id}:undo:{learner.learner_id}",
        )
    ]
    summary = audit.entries_for(
        requestor.username,
        UNDONE_ACTION,
        "upload",
        upload.upload_id,
        scopes=scope,
        agency_id=upload.agency_id,
        facility_id=upload.facility_id,
        details={"reactivated": len(reactivated), "skipped": skipped},
        at=at,
        key=f"{upload.upload_id}:undo",
    )
    return per_learner, summary


def _load(requestor: StaffMember, upload_id: str) -> Upload:
    """The upload, if the requestor may write in its facility: NotFound outside their scope (as every upload route
    answers), PermissionDenied for one who may only read it."""
    upload = upload_store.get_upload(upload_id.strip())
    if upload is None:
        raise NotFound("No such upload")
    try:
        facility = get_facility(requestor, upload.facility_id)
    except NotFound:
        raise NotFound("No such upload") from None
    if not authz.can_write_location(requestor, facility):
        raise PermissionDenied("Requestor does not have permission to undo this facility's uploads")
    return upload


def undo_deactivations(requestor: StaffMember, upload_id: str, repository: LearnerRepository = STORE) -> UndoResult:
    """Reactivate every learner the sync upload deactivated that nothing has changed since; the others are skipped.
    Idempotent: a repeat answers the same counts and writes nothing."""
    upload = _load(requestor, upload_id)
    now = clock.utc_now()
    if (why := refusal(upload, now)) is not None:
        raise Conflict(why)
    marked: Upload | None = upload
    if upload.deactivations_undone_at is None:
        marked = upload_store.mark_deactivations_undone(upload.upload_id, now.isoformat(), requestor.username, FINISHED)
    if marked is None or marked.deactivations_undone_at is None:
        raise Conflict("This upload changed meanwhile; try again")
    undone_at = datetime.fromisoformat(marked.deactivations_undone_at)
    deactivated: list[str] = []
    if upload.confirmed_at is not None:
        confirmed_at = datetime.fromisoformat(upload.confirmed_at)
        rows = audit.keyed_entries(upload.facility_id, confirmed_at, f"{upload.upload_id}:", DEACTIVATED_ACTION)
        deactivated = list(dict.fromkeys(entry.target_id for entry in rows))

    with ThreadPoolExecutor(max_workers=UNDO_THREADS) as pool:
        futures = [pool.submit(_undo_one, learner_id, upload, requestor, repository) for learner_id in deactivated]
    failures = [failure for future in futures if (failure := future.exception()) is not None]
    done = [future.result() for future in futures if future.exception() is None]
    reactivated = [learner for step, learner in done if step == REACTIVATED and learner is not None]
    if failures:  # the learners reactivated so far are audited by the repeat (the summary is not stored yet)
        raise failures[0]
    result = UndoResult(reactivated=len(reactivated), skipped=len(deactivated) - len(reactivated))

    summary_stored = audit.keyed_entries(upload.facility_id, undone_at, f"{upload.upload_id}:undo", UNDONE_ACTION)
    if not summary_stored:
        per_learner, summary = _entries(upload, requestor, undone_at, reactivated, result.skipped)
        with ThreadPoolExecutor(max_workers=UNDO_THREADS) as pool:  # one PutItem each (the API role's grant)
            list(pool.map(lambda entry: audit.record_all([entry]), per_learner))
        audit.record_all(summary)  # last: once it is stored, the undo is fully audited
        metrics.add_metric(name="SyncDeactivationsUndone", unit="Count", value=result.reactivated)
    logger.info(
        "sync deactivations undone",
        extra={"upload_id": upload.upload_id, "reactivated": result.reactivated, "skipped": result.skipped},
    )
    return result
