"""The rules of undoing a sync's deactivations (intake.sync_undo), with an in-memory repository and upload store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake import sync_undo
from intake.domain import (
    AuditEntry,
    HistoryKind,
    Learner,
    LearnerStatus,
    Role,
    StaffMember,
    Upload,
    UploadMode,
    UploadStatus,
    history_entry,
)
from intake.errors import Conflict, NotFound, PermissionDenied
from tests.unit.learner_fakes import AGENCY, FACILITY, OTHER_FACILITY, Repository, location, stored_learner

UPLOAD = "sync-1"
COMPLETED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ADMIN = StaffMember(username="ridge", role=Role.FACILITY_ADMIN, agency_id=AGENCY, facility_ids=(FACILITY,))
EDUCATOR = StaffMember(username="teach", role=Role.EDUCATOR, agency_id=AGENCY, facility_ids=(FACILITY,))
OUTSIDER = StaffMember(username="pine", role=Role.FACILITY_ADMIN, agency_id=AGENCY, facility_ids=(OTHER_FACILITY,))


@pytest.fixture(autouse=True)
def a_day_after_completion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_undo.clock, "utc_now", lambda: COMPLETED_AT + timedelta(days=1))


def sync_upload(**changes: object) -> Upload:
    fields: dict[str, object] = {
        "upload_id": UPLOAD,
        "facility_id": FACILITY,
        "agency_id": AGENCY,
        "source": "drop",
        "object_key": f"incoming/{FACILITY}/roster.csv",
        "status": UploadStatus.COMPLETED,
        "created_at": "2026-03-01T11:00:00+00:00",
        "created_by": "sftp",
        "expires_at": "2026-03-08T11:00:00+00:00",
        "confirmed_by": "ridge",
        "confirmed_at": "2026-03-01T11:30:00+00:00",
        "completed_at": COMPLETED_AT.isoformat(),
        "mode": UploadMode.SYNC,
        **changes,
    }
    return Upload(**fields)  # type: ignore[arg-type]


def deactivated_by_sync(repo: Repository, doc_id: str) -> Learner:
    entry = history_entry(HistoryKind.DEACTIVATED, COMPLETED_AT, "ridge", upload_id=UPLOAD)
    learner = stored_learner(
        doc_id,
        status=LearnerStatus.INACTIVE,
        version=2,
        history=(history_entry(HistoryKind.CREATED, datetime(2025, 1, 1, tzinfo=UTC), "someone"), entry),
    )
    repo.learners[(AGENCY, doc_id)] = learner
    return learner


class Stores:
    """The upload and the audit trail in memory, in place of intake.dal.uploads and intake.audit's storage."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, upload: Upload, deactivated: list[str]) -> None:
        self.upload = upload
        self.audit: dict[tuple[str, str], AuditEntry] = {}
        self.marks = 0
        at = datetime.fromisoformat(upload.confirmed_at or "")
        for line, learner_id in enumerate(deactivated, start=10):
            for entry in sync_undo.audit.entries_for(
                "ridge",
                "LEARNER_DEACTIVATED",
                "learner",
                learner_id,
                scopes=[FACILITY],
                details={"uploadId": UPLOAD},
                at=at,
                key=f"{UPLOAD}:{line:07d}",
            ):
                self.audit[(entry.scope, entry.entry_id)] = entry
        monkeypatch.setattr(sync_undo.upload_store, "get_upload", self.get_upload)
        monkeypatch.setattr(sync_undo.upload_store, "mark_deactivations_undone", self.mark)
        monkeypatch.setattr(sync_undo.audit.audit_store, "entries_with_prefix", self.entries_with_prefix)
        monkeypatch.setattr(sync_undo.audit.audit_store, "put_entries", self.put_entries)
        monkeypatch.setattr(sync_undo, "get_facility", self.get_facility)

    def get_upload(self, upload_id: str) -> Upload | None:
        return self.upload if upload_id == UPLOAD else None

    def get_facility(self, requestor: StaffMember, facility_id: str):
        if facility_id not in requestor.facility_ids:
            raise NotFound("No such facility")
        return location(facility_id, facility_id)

    def mark(self, upload_id: str, at: str, by: str, finished: object) -> Upload | None:
        self.marks += 1
        if self.upload.deactivations_undone_at is None:
            self.upload = self.upload.model_copy(update={"deactivations_undone_at": at, "deactivations_undone_by": by})
        return self.upload

    def entries_with_prefix(self, scope: str, prefix: str, action: str) -> list[AuditEntry]:
        found = [e for (s, i), e in sorted(self.audit.items()) if s == scope and i.startswith(prefix)]
        return [e for e in found if e.action == action]

    def put_entries(self, entries: list[AuditEntry]) -> None:
        for entry in entries:
            self.audit[(entry.scope, entry.entry_id)] = entry

    def actions(self) -> list[tuple[str, str]]:
        return sorted((e.action, e.target_id) for e in self.audit.values() if e.action != "LEARNER_DEACTIVATED")


def test_undo_reactivates_the_unchanged_skips_the_changed_and_a_repeat_writes_nothing(monkeypatch) -> None:
    # Given three learners the sync deactivated, one of them edited by staff since
    repo = Repository()
    learners = [deactivated_by_sync(repo, doc_id) for doc_id in ("A1", "A2", "A3")]
    edited = learners[2].model_copy(
        update={"history": (*learners[2].history, history_entry(HistoryKind.EDITED, COMPLETED_AT, "staff"))}
    )
    repo.learners[(AGENCY, "A3")] = edited.model_copy(update={"version": 3})
    stores = Stores(monkeypatch, sync_upload(), [learner.learner_id for learner in learners])
    # When the undo is asked for, then again
    first = sync_undo.undo_deactivations(ADMIN, UPLOAD, repo)
    writes, audit = repo.writes, dict(stores.audit)
    again = sync_undo.undo_deactivations(ADMIN, UPLOAD, repo)
    # Then two are active again with a REACTIVATED entry of the upload by the requestor, the edited one untouched
    assert first == again == sync_undo.UndoResult(reactivated=2, skipped=1)
    for doc_id in ("A1", "A2"):
        learner = repo.learners[(AGENCY, doc_id)]
        last = learner.history[-1]
        assert learner.status is LearnerStatus.ACTIVE
        assert (last.kind, last.upload_id, last.by) == (HistoryKind.REACTIVATED, UPLOAD, "ridge")
    assert repo.learners[(AGENCY, "A3")].status is LearnerStatus.INACTIVE
    # And it is audited by ids: each reactivation and the undo's counts; the repeat wrote nothing at all
    assert stores.actions() == sorted(
        [("LEARNER_REACTIVATED", "id-A1"), ("LEARNER_REACTIVATED", "id-A2"), ("UPLOAD_DEACTIVATIONS_UNDONE", UPLOAD)]
    )
    summary = next(e for e in stores.audit.values() if e.action == "UPLOAD_DEACTIVATIONS_UNDONE")
    assert summary.details == {"reactivated": 2, "skipped": 1}
    assert (repo.writes, stores.audit, stores.marks) == (writes, audit, 1)


def test_a_repeat_after_a_crash_before_the_audit_files_the_same_entries_once(monkeypatch) -> None:
    # Given an undo that reactivated its learners, then died before any audit entry was stored
    repo = Repository()
    deactivated_by_sync(repo, "B1")
    stores = Stores(monkeypatch, sync_upload(), ["id-B1"])
    monkeypatch.setattr(sync_undo.audit.audit_store, "put_entries", lambda entries: (_ for _ in ()).throw(OSError()))
    with pytest.raises(OSError):
        sync_undo.undo_deactivations(ADMIN, UPLOAD, repo)
    assert repo.learners[(AGENCY, "B1")].status is LearnerStatus.ACTIVE
    # When it is asked for again
    monkeypatch.setattr(sync_undo.audit.audit_store, "put_entries", stores.put_entries)
    result = sync_undo.undo_deactivations(ADMIN, UPLOAD, repo)
    # Then the learner counts as reactivated (no second write), and the entries are filed once
    assert result == sync_undo.UndoResult(reactivated=1, skipped=0)
    assert [e.kind for e in repo.learners[(AGENCY, "B1")].history].count(HistoryKind.REACTIVATED) == 1
    assert stores.actions() == [("LEARNER_REACTIVATED", "id-B1"), ("UPLOAD_DEACTIVATIONS_UNDONE", UPLOAD)]


def _learner_with(repo: Repository, doc_id: str, **changes: object) -> Learner:
    learner = deactivated_by_sync(repo, doc_id).model_copy(update=changes)
    repo.learners[(AGENCY, doc_id)] = learner
    return learner


def test_step_for_each_kind_of_learner() -> None:
    repo, upload = Repository(), sync_upload()
    later = history_entry(HistoryKind.PASSWORD_RESET, COMPLETED_AT, "staff")
    undone = history_entry(HistoryKind.REACTIVATED, COMPLETED_AT, "ridge", upload_id=UPLOAD)
    base = deactivated_by_sync(repo, "S0")
    assert sync_undo.step_for(base, upload) == sync_undo.REACTIVATE
    assert sync_undo.step_for(None, upload) == sync_undo.SKIPPED
    reset = _learner_with(repo, "S1", history=(*base.history, later))
    assert sync_undo.step_for(reset, upload) == sync_undo.SKIPPED
    active = _learner_with(repo, "S2", status=LearnerStatus.ACTIVE)
    assert sync_undo.step_for(active, upload) == sync_undo.SKIPPED
    moved = _learner_with(repo, "S3", facility_id=OTHER_FACILITY)
    assert sync_undo.step_for(moved, upload) == sync_undo.SKIPPED
    ours = _learner_with(repo, "S4", status=LearnerStatus.ACTIVE, history=(*base.history, undone))
    assert sync_undo.step_for(ours, upload) == sync_undo.REACTIVATED
    edited_after_ours = _learner_with(repo, "S5", history=(*base.history, undone, later))
    assert sync_undo.step_for(edited_after_ours, upload) == sync_undo.REACTIVATED
    other_upload = sync_upload(upload_id="sync-2")
    assert sync_undo.step_for(base, other_upload) == sync_undo.SKIPPED


@pytest.mark.parametrize(
    ("changes", "days", "words"),
    [
        ({"mode": UploadMode.CREATE}, 1, "Only a sync"),
        ({"status": UploadStatus.CREATING}, 1, "once it has completed"),
        ({"status": UploadStatus.VALIDATED}, 1, "once it has completed"),
        ({"status": UploadStatus.FAILED}, 1, "once it has completed"),
        ({}, 30.01, "more than 30 days ago"),
        ({"completed_at": None}, 1, "more than 30 days ago"),
    ],
)
def test_undo_is_refused_with_a_clear_conflict(monkeypatch, changes, days, words) -> None:
    # Given an upload that is not a finished sync, or finished too long ago
    repo = Repository()
    deactivated_by_sync(repo, "C1")
    stores = Stores(monkeypatch, sync_upload(**changes), ["id-C1"])
    monkeypatch.setattr(sync_undo.clock, "utc_now", lambda: COMPLETED_AT + timedelta(days=days))
    # When the undo is asked for
    with pytest.raises(Conflict) as refused:
        sync_undo.undo_deactivations(ADMIN, UPLOAD, repo)
    # Then it is a 409 saying why, and nothing was written
    assert words in refused.value.message
    assert (repo.writes, stores.marks, stores.actions()) == (0, 0, [])


def test_undo_on_the_last_day_of_the_window_is_allowed(monkeypatch) -> None:
    repo = Repository()
    deactivated_by_sync(repo, "D1")
    Stores(monkeypatch, sync_upload(status=UploadStatus.COMPLETED_WITH_ERRORS), ["id-D1"])
    monkeypatch.setattr(sync_undo.clock, "utc_now", lambda: COMPLETED_AT + timedelta(days=30))
    assert sync_undo.undo_deactivations(ADMIN, UPLOAD, repo) == sync_undo.UndoResult(reactivated=1, skipped=0)


def test_unknown_out_of_scope_and_read_only_requestors(monkeypatch) -> None:
    repo = Repository()
    deactivated_by_sync(repo, "E1")
    stores = Stores(monkeypatch, sync_upload(), ["id-E1"])
    with pytest.raises(NotFound):
        sync_undo.undo_deactivations(ADMIN, "no-such-upload", repo)
    with pytest.raises(NotFound):
        sync_undo.undo_deactivations(OUTSIDER, UPLOAD, repo)
    with pytest.raises(PermissionDenied):
        sync_undo.undo_deactivations(EDUCATOR, UPLOAD, repo)
    assert (repo.writes, stores.marks) == (0, 0)
