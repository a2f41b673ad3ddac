"""Creation of plan entries (intake.bulk.creation.apply_entry) with an in-memory repository: no moto."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime

import pytest

from intake import passwords
from intake.bulk import creation, keys
from intake.bulk.types import CREATE, MOVE, REACTIVATE, ExistingLearner, PlanEntry
from intake.domain import HistoryEntry, HistoryKind, Learner, LearnerStatus, Location, Upload, UploadStatus
from intake.errors import Conflict
from tests.unit.learner_fakes import AGENCY, FACILITY, OTHER_FACILITY, OTHER_UNIT, UNIT, Repository, location

UPLOAD = "up-1"
DATA_KEY = os.urandom(32)


def upload(move_existing: bool = False) -> Upload:
    return Upload(
        upload_id=UPLOAD,
        facility_id=FACILITY,
        agency_id=AGENCY,
        source="link",
        object_key=f"incoming/{FACILITY}/{UPLOAD}.csv",
        status=UploadStatus.CREATING,
        created_at="2026-01-01T00:00:00+00:00",
        created_by="maker",
        expires_at="2026-01-02T00:00:00+00:00",
        confirmed_by="confirmer",
        confirmed_at="2026-01-01T01:00:00+00:00",
        move_existing=move_existing,
    )


def entry(line: int, doc_id: str, *, location_id: str = UNIT, password: str | None = None, **changes: object):
    sealed = passwords.seal(DATA_KEY, password, keys.given_password_context(UPLOAD, line)) if password else None
    fields: dict[str, object] = {
        "line": line,
        "request_id": f"r{line}",
        "action": CREATE,
        "doc_id": doc_id,
        "first_name": "Dee",
        "last_name": "Lee",
        "date_of_birth": "01/02/1990",
        "location_id": location_id,
        "facility_id": FACILITY,
        "agency_id": AGENCY,
        "sealed_password": sealed,
        **changes,
    }
    return PlanEntry(**fields)  # type: ignore[arg-type]


def existing_learner(
    doc_id: str,
    location_id: str = OTHER_UNIT,
    facility_id: str = OTHER_FACILITY,
    status: LearnerStatus = LearnerStatus.ACTIVE,
) -> Learner:
    return Learner(
        learner_id=f"id-{doc_id}",
        agency_id=AGENCY,
        doc_id=doc_id,
        first_name="Dee",
        last_name="Lee",
        date_of_birth="01/02/1990",
        location_id=location_id,
        facility_id=facility_id,
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        created_by="someone",
        status=status,
    )


def move_entry(line: int, doc_id: str) -> PlanEntry:
    return entry(line, doc_id, action=MOVE, existing=ExistingLearner(f"id-{doc_id}", OTHER_UNIT, OTHER_FACILITY))


def reactivate_entry(line: int, doc_id: str, password: str | None = None) -> PlanEntry:
    seen = ExistingLearner(f"id-{doc_id}", OTHER_UNIT, OTHER_FACILITY, LearnerStatus.INACTIVE)
    return entry(line, doc_id, password=password, action=REACTIVATE, existing=seen)


def inactive(repo: Repository, doc_id: str) -> Learner:
    """An inactive learner of the agency, left at the other facility with an old password."""
    learner = existing_learner(doc_id, status=LearnerStatus.INACTIVE)
    repo.learners[(AGENCY, doc_id)] = learner
    repo.hashes[(AGENCY, doc_id)] = passwords.hash_password("Old-pass-123")
    return learner


def apply(repo: Repository, plan_entry: PlanEntry, move_existing: bool = False) -> creation._Outcome:
    outcome = creation.apply_entry(plan_entry, upload(move_existing), {}, DATA_KEY, repo)
    assert outcome.row is plan_entry  # every outcome is of its own row: results.csv writes the row's line and cells
    return outcome


def test_a_create_stores_the_learner_once_with_its_given_password() -> None:
    repo = Repository()
    outcome = apply(repo, entry(2, "A1", password="Given-pass-1"))
    stored = repo.learners[(AGENCY, "A1")]
    assert (outcome.outcome, outcome.learner_id, outcome.password) == ("CREATED", stored.learner_id, "")
    assert (stored.upload_id, stored.created_by, stored.location_id, stored.facility_id) == (
        UPLOAD,
        "confirmer",
        UNIT,
        FACILITY,
    )
    assert passwords.verify_password(repo.hashes[(AGENCY, "A1")], "Given-pass-1")
    assert outcome.created == stored


def test_a_repeated_create_is_its_own_earlier_attempt_with_the_same_generated_password() -> None:
    repo = Repository()
    first = apply(repo, entry(3, "B1"))
    again = apply(repo, entry(3, "B1"))
    assert first.outcome == again.outcome == "CREATED" and first.password and again.password == first.password
    assert again.learner_id == first.learner_id and len(repo.learners) == 1
    assert again.created is not None and again.created.learner_id == first.learner_id
    # and its audit entry names the username the first attempt claimed
    assert first.created is not None and first.created.username and again.created.username == first.created.username
    assert passwords.verify_password(repo.hashes[(AGENCY, "B1")], first.password)


def test_a_doc_id_taken_since_the_check_fails_and_names_the_learner() -> None:
    repo = Repository()
    repo.learners[(AGENCY, "C1")] = existing_learner("C1")
    outcome = apply(repo, entry(4, "C1"))
    assert (outcome.outcome, outcome.learner_id) == ("FAILED", "id-C1")
    assert outcome.message == "DOC ID C1 was given an account since the file was checked: nothing was created"


def test_a_row_outside_the_uploads_facility_or_at_an_inactive_location_fails() -> None:
    repo = Repository()
    outside = apply(repo, entry(5, "D1", location_id=OTHER_UNIT, facility_id=OTHER_FACILITY))
    assert outside.outcome == "FAILED" and "not in this upload's facility fac-oak" in outside.message
    repo.locations[UNIT] = location(UNIT, FACILITY, active=False)
    inactive = apply(repo, entry(6, "D2"))
    assert (inactive.outcome, inactive.message) == ("FAILED", "The location was deactivated since the file was checked")
    assert repo.learners == {}


def test_a_password_sealed_for_another_line_is_not_opened() -> None:
    repo = Repository()
    other = entry(8, "E1", password="Given-pass-1")
    outcome = apply(repo, entry(7, "E1", sealed_password=other.sealed_password))
    assert (outcome.outcome, outcome.message) == ("FAILED", creation.UNREADABLE_SEAL_MESSAGE)
    assert repo.learners == {}


def test_a_plan_from_before_sealing_creates_with_its_plaintext_password() -> None:
    repo = Repository()
    old = entry(9, "F1")._replace(password="Old-pass-1")  # what plan_entry_of reads from such a plan
    first, again = apply(repo, old), apply(repo, old)
    assert (first.outcome, first.password, again.outcome, again.learner_id) == (
        "CREATED",
        "",
        "CREATED",
        first.learner_id,
    )
    assert passwords.verify_password(repo.hashes[(AGENCY, "F1")], "Old-pass-1")


def test_a_move_is_skipped_without_move_existing_and_done_once_with_it() -> None:
    repo = Repository()
    repo.learners[(AGENCY, "G1")] = existing_learner("G1")
    skipped = apply(repo, move_entry(10, "G1"))
    assert (skipped.outcome, skipped.learner_id) == ("SKIPPED", "id-G1")
    assert skipped.message == "Already has an account at facility fac-pine: confirm with moveExisting to move"
    moved = apply(repo, move_entry(10, "G1"), move_existing=True)
    again = apply(repo, move_entry(10, "G1"), move_existing=True)
    assert (moved.outcome, again.outcome, moved.learner_id) == ("MOVED", "MOVED", "id-G1")
    after = repo.learners[(AGENCY, "G1")]
    assert after.location_id == UNIT and len(after.history) == 1 and after.history[0].upload_id == UPLOAD


def test_a_learner_moved_or_gone_since_the_check_is_not_moved() -> None:
    repo = Repository()
    gone = apply(repo, move_entry(11, "H1"), move_existing=True)
    assert (gone.outcome, gone.message) == ("FAILED", "The learner no longer exists: nothing moved")
    repo.learners[(AGENCY, "H1")] = existing_learner("H1", OTHER_FACILITY, OTHER_FACILITY)
    moved = apply(repo, move_entry(11, "H1"), move_existing=True)
    assert (moved.outcome, moved.message) == ("FAILED", "The learner moved since the file was checked")


def test_a_learner_deactivated_since_the_check_is_not_moved_and_stays_inactive() -> None:
    # Given a MOVE planned for an active learner that staff deactivated before the upload was confirmed
    repo = Repository()
    left = existing_learner("H2", status=LearnerStatus.INACTIVE)
    repo.learners[(AGENCY, "H2")] = left
    # When the row is applied with moveExisting
    outcome = apply(repo, move_entry(11, "H2"), move_existing=True)
    # Then it fails saying how to bring the learner back, and the learner is left as it was
    assert (outcome.outcome, outcome.message) == ("FAILED", creation.DEACTIVATED_MEANWHILE_MESSAGE)
    assert repo.learners[(AGENCY, "H2")] == left


def test_audit_entries_and_result_rows_of_a_part() -> None:
    repo = Repository()
    repo.learners[(AGENCY, "J2")] = existing_learner("J2")
    repo.learners[(AGENCY, "J3")] = existing_learner("J3")
    the_upload = upload(move_existing=True)
    outcomes = [
        creation.apply_entry(entry(12, "J1"), the_upload, {}, DATA_KEY, repo),
        creation.apply_entry(move_entry(13, "J2"), the_upload, {}, DATA_KEY, repo),
        creation.apply_entry(
            move_entry(14, "J3"), the_upload.model_copy(update={"move_existing": False}), {}, None, repo
        ),
    ]
    entries = creation._audit_entries(the_upload, outcomes)
    created, *moved = entries
    assert (created.scope, created.action, created.target_id, created.actor) == (
        FACILITY,
        "LEARNER_CREATED",
        outcomes[0].learner_id,
        "confirmer",
    )
    assert created.entry_id == "2026-01-01T01:00:00.000000Z#up-1:0000012"
    assert created.details == {"uploadId": UPLOAD, "locationId": UNIT}
    assert [m.scope for m in moved] == [OTHER_FACILITY, FACILITY]
    assert {m.entry_id for m in moved} == {"2026-01-01T01:00:00.000000Z#up-1:0000013"}
    assert moved[0].details == {"uploadId": UPLOAD, "locationId": UNIT, "fromLocationId": OTHER_UNIT}
    rows = list(csv.reader(io.StringIO(creation._csv(UPLOAD, outcomes, DATA_KEY).decode())))
    assert [(r[0], r[2], r[5], r[6], r[7]) for r in rows] == [
        ("12", "J1", outcomes[0].learner_id, UNIT, "CREATED"),
        ("13", "J2", "id-J2", UNIT, "MOVED"),
        ("14", "J3", "id-J3", OTHER_UNIT, "SKIPPED"),
    ]
    sealed = rows[0][8]
    assert sealed != outcomes[0].password
    assert passwords.unseal(DATA_KEY, sealed, keys.result_password_context(UPLOAD, 12)) == outcomes[0].password


@pytest.mark.parametrize("action", [CREATE, MOVE, REACTIVATE])
def test_every_storage_call_goes_through_the_repository(action: str) -> None:
    repo = Repository()
    repo.learners[(AGENCY, "K1")] = existing_learner("K1")
    inactive(repo, "K3")
    plan_entry = {MOVE: move_entry(15, "K1"), CREATE: entry(15, "K2"), REACTIVATE: reactivate_entry(15, "K3")}[action]
    outcome = apply(repo, plan_entry, move_existing=True)  # the fake holds everything
    assert outcome.outcome == {MOVE: "MOVED", CREATE: "CREATED", REACTIVATE: "REACTIVATED"}[action]


def kinds(learner: Learner) -> list[tuple[HistoryKind, str | None]]:
    return [(e.kind, e.upload_id) for e in learner.history]


def test_a_reactivation_brings_the_same_learner_back_here_with_a_generated_password_without_move_existing() -> None:
    # Given an inactive learner left at another facility of the agency
    repo = Repository()
    inactive(repo, "R1")
    # When its REACTIVATE row (blank password) is applied, the upload confirmed without moveExisting
    outcome = apply(repo, reactivate_entry(20, "R1"))
    # Then the same learner is ACTIVE at the row's location, no other learner exists, and its history says how
    after = repo.learners[(AGENCY, "R1")]
    assert (outcome.outcome, outcome.learner_id, outcome.message) == ("REACTIVATED", "id-R1", "")
    assert (after.learner_id, after.status, after.location_id, after.facility_id) == (
        "id-R1",
        LearnerStatus.ACTIVE,
        UNIT,
        FACILITY,
    )
    assert len(repo.learners) == 1
    assert kinds(after) == [(HistoryKind.MOVED, UPLOAD), (HistoryKind.REACTIVATED, UPLOAD)]
    assert (after.history[0].from_location_id, after.history[0].to_location_id) == (OTHER_UNIT, UNIT)
    assert {e.by for e in after.history} == {"confirmer"}
    # And the generated password is reported and is the one that now works; the old one does not
    assert outcome.password and passwords.verify_password(repo.hashes[(AGENCY, "R1")], outcome.password)
    assert not passwords.verify_password(repo.hashes[(AGENCY, "R1")], "Old-pass-123")


def test_a_reactivation_with_a_given_password_stores_it_and_reports_none() -> None:
    repo = Repository()
    inactive(repo, "R2")
    outcome = apply(repo, reactivate_entry(21, "R2", password="Given-pass-1"))
    assert (outcome.outcome, outcome.password) == ("REACTIVATED", "")
    assert passwords.verify_password(repo.hashes[(AGENCY, "R2")], "Given-pass-1")


def test_a_reactivation_at_the_same_location_records_no_move() -> None:
    repo = Repository()
    repo.learners[(AGENCY, "R3")] = existing_learner("R3", UNIT, FACILITY, LearnerStatus.INACTIVE)
    seen = ExistingLearner("id-R3", UNIT, FACILITY, LearnerStatus.INACTIVE)
    outcome = apply(repo, entry(22, "R3", action=REACTIVATE, existing=seen))
    assert outcome.outcome == "REACTIVATED"
    assert kinds(repo.learners[(AGENCY, "R3")]) == [(HistoryKind.REACTIVATED, UPLOAD)]


def test_a_retried_reactivation_recognises_its_own_work_and_keeps_the_reported_password() -> None:
    # Given a row reactivated once (its part's answer lost)
    repo = Repository()
    inactive(repo, "R4")
    first = apply(repo, reactivate_entry(23, "R4"))
    stored_hash = repo.hashes[(AGENCY, "R4")]
    # When the same row is applied again
    again = apply(repo, reactivate_entry(23, "R4"))
    # Then it reports the same outcome and password, and nothing was written a second time
    assert (again.outcome, again.learner_id, again.password) == ("REACTIVATED", "id-R4", first.password)
    assert repo.hashes[(AGENCY, "R4")] == stored_hash and len(repo.learners[(AGENCY, "R4")].history) == 2
    assert passwords.verify_password(stored_hash, again.password)


def test_a_learner_reactivated_by_someone_else_since_the_check_fails_and_nothing_changes() -> None:
    # Given a planned reactivation whose learner staff reactivated meanwhile (at its old location)
    repo = Repository()
    inactive(repo, "R5")
    theirs = repo.learners[(AGENCY, "R5")].model_copy(update={"status": LearnerStatus.ACTIVE})
    repo.learners[(AGENCY, "R5")] = theirs
    before = repo.hashes[(AGENCY, "R5")]
    # When the row is applied
    outcome = apply(repo, reactivate_entry(24, "R5"))
    # Then the row fails saying why, and the learner, its location and its password are as the other left them
    assert (outcome.outcome, outcome.learner_id) == ("FAILED", "id-R5")
    assert outcome.message == creation.REACTIVATED_MEANWHILE_MESSAGE
    assert repo.learners[(AGENCY, "R5")] == theirs and repo.hashes[(AGENCY, "R5")] == before


class Racing(Repository):
    """A repository where someone reactivates the learner between the worker's read and its write."""

    def __init__(self, by_upload: str | None) -> None:
        super().__init__()
        self.by_upload = by_upload

    def reactivate(
        self,
        learner: Learner,
        destination: Location,
        password_hash: str,
        entries: list[HistoryEntry],
        upload_id: str | None = None,
    ) -> Learner:
        other = [e.model_copy(update={"upload_id": self.by_upload}) for e in entries]
        super().reactivate(learner, destination, passwords.hash_password("Their-pass-1"), other, self.by_upload)
        return super().reactivate(learner, destination, password_hash, entries, upload_id)  # refused: not inactive


def test_a_reactivation_refused_by_the_store_fails_unless_it_was_this_rows_own() -> None:
    # Given someone else reactivating the learner just before the worker's conditional write
    repo = Racing(by_upload=None)
    inactive(repo, "R6")
    outcome = apply(repo, reactivate_entry(25, "R6"))
    # Then the store refuses the second reactivation, the row fails, and the other's password stands
    assert (outcome.outcome, outcome.message) == ("FAILED", creation.REACTIVATED_MEANWHILE_MESSAGE)
    assert passwords.verify_password(repo.hashes[(AGENCY, "R6")], "Their-pass-1")
    assert [kind for kind, _ in kinds(repo.learners[(AGENCY, "R6")])] == [HistoryKind.MOVED, HistoryKind.REACTIVATED]
    # And when the one that got in first was a concurrent delivery of this same upload, the row is done, once
    ours = Racing(by_upload=UPLOAD)
    inactive(ours, "R7")
    assert apply(ours, reactivate_entry(26, "R7")).outcome == "REACTIVATED"
    assert len(ours.learners[(AGENCY, "R7")].history) == 2


def test_a_reactivation_of_a_learner_gone_replaced_or_moved_since_the_check_fails() -> None:
    repo = Repository()
    gone = apply(repo, reactivate_entry(27, "R8"))
    assert (gone.outcome, gone.learner_id) == ("FAILED", "id-R8")
    repo.learners[(AGENCY, "R8")] = inactive(repo, "R8").model_copy(update={"learner_id": "someone-new"})
    replaced = apply(repo, reactivate_entry(27, "R8"))
    assert (replaced.outcome, replaced.message) == ("FAILED", "The learner no longer exists: nothing was changed")
    moved = existing_learner("R9", OTHER_FACILITY, OTHER_FACILITY, LearnerStatus.INACTIVE)
    repo.learners[(AGENCY, "R9")] = moved
    outcome = apply(repo, reactivate_entry(28, "R9"))
    assert outcome.outcome == "FAILED" and outcome.message.startswith(
        "The learner was moved since the file was checked"
    )
    assert repo.learners[(AGENCY, "R9")] == moved


def test_a_reactivation_at_a_deactivated_location_or_with_an_unreadable_password_changes_nothing() -> None:
    repo = Repository()
    learner = inactive(repo, "S1")
    other = reactivate_entry(30, "S1", password="Given-pass-1")
    unreadable = apply(repo, reactivate_entry(29, "S1")._replace(sealed_password=other.sealed_password))
    assert (unreadable.outcome, unreadable.message) == ("FAILED", creation.UNREADABLE_SEAL_MESSAGE)
    repo.locations[UNIT] = location(UNIT, FACILITY, active=False)
    closed = apply(repo, reactivate_entry(29, "S1"))
    assert closed.outcome == "FAILED" and closed.learner_id == "id-S1"
    assert repo.learners[(AGENCY, "S1")] == learner


def test_a_reactivated_row_is_audited_under_both_facilities_and_reported_with_its_sealed_password() -> None:
    repo = Repository()
    inactive(repo, "T1")
    the_upload = upload()
    outcomes = [creation.apply_entry(reactivate_entry(31, "T1"), the_upload, {}, DATA_KEY, repo)]
    entries = creation._audit_entries(the_upload, outcomes)
    assert [(e.scope, e.action, e.target_id, e.actor) for e in entries] == [
        (OTHER_FACILITY, "LEARNER_REACTIVATED", "id-T1", "confirmer"),
        (FACILITY, "LEARNER_REACTIVATED", "id-T1", "confirmer"),
    ]
    assert {e.entry_id for e in entries} == {"2026-01-01T01:00:00.000000Z#up-1:0000031"}  # a retry overwrites
    assert entries[0].details == {"uploadId": UPLOAD, "locationId": UNIT, "fromLocationId": OTHER_UNIT}
    [row] = list(csv.reader(io.StringIO(creation._csv(UPLOAD, outcomes, DATA_KEY).decode())))
    assert (row[2], row[5], row[6], row[7]) == ("T1", "id-T1", UNIT, "REACTIVATED")
    assert row[8] != outcomes[0].password
    assert passwords.unseal(DATA_KEY, row[8], keys.result_password_context(UPLOAD, 31)) == outcomes[0].password


class MovedFirst(Repository):
    """A repository where another delivery moves the learner between the worker's read and its conditional write,
    leaving `after` (a function of the learner moved by that delivery) as the stored learner, or None (gone)."""

    def __init__(self, after: object) -> None:
        super().__init__()
        self.after = after

    def move_learner(self, learner: Learner, destination: Location, move: HistoryEntry) -> Learner:
        key = (learner.agency_id, learner.doc_id)
        moved = super().move_learner(learner, destination, move)  # the other delivery's move
        replaced = self.after(moved)  # type: ignore[operator]
        if replaced is None:
            del self.learners[key]
            raise Conflict("The learner moved meanwhile")  # as the store's condition refuses a learner gone
        self.learners[key] = replaced
        return super().move_learner(learner, destination, move)  # ours: refused, the learner is no longer there


def _other(entry: HistoryEntry, upload_id: str | None = "up-other") -> HistoryEntry:
    return entry.model_copy(update={"upload_id": upload_id})


def test_a_move_refused_because_a_concurrent_delivery_of_this_upload_made_it_is_done_once() -> None:
    # Given a learner arriving from another facility with two earlier moves, moved by a concurrent delivery of this
    # same upload just before the worker's write
    repo = MovedFirst(lambda moved: moved.model_copy(update={"history": (
        _other(moved.history[-1]), _other(moved.history[-1]), *moved.history)}))  # fmt: skip
    repo.learners[(AGENCY, "K1")] = existing_learner("K1")
    # When the row is applied
    outcome = apply(repo, move_entry(12, "K1"), move_existing=True)
    # Then the refusal is recognised as this upload's own move: MOVED, once, by the staff member who confirmed
    assert (outcome.outcome, outcome.learner_id) == ("MOVED", "id-K1")
    after = repo.learners[(AGENCY, "K1")]
    assert after.location_id == UNIT and [e.upload_id for e in after.history] == ["up-other", "up-other", UPLOAD]
    assert after.history[-1].by == "confirmer"


@pytest.mark.parametrize(
    "case",
    ["gone", "moved elsewhere", "moved here by another upload", "moved here with no history"],
)
def test_a_move_refused_by_anything_but_this_uploads_own_move_is_not_reported_done(case: str) -> None:
    # Given a learner changed by someone else between the worker's read and its write
    changes = {
        "gone": lambda moved: None,
        "moved elsewhere": lambda moved: moved.model_copy(update={"location_id": "unit-elsewhere"}),
        "moved here by another upload": lambda moved: moved.model_copy(
            update={"history": (*moved.history[:-1], _other(moved.history[-1]))}
        ),
        "moved here with no history": lambda moved: moved.model_copy(update={"history": ()}),
    }
    repo = MovedFirst(changes[case])
    repo.learners[(AGENCY, "K2")] = existing_learner("K2")
    # When the row is applied
    outcome = apply(repo, move_entry(13, "K2"), move_existing=True)
    # Then the store's refusal stands: the row fails with its reason, and the learner is as the other change left it
    assert (outcome.outcome, outcome.message) == ("FAILED", "The learner moved meanwhile")
    stored = repo.learners.get((AGENCY, "K2"))
    assert (stored is None) == (case == "gone")
    assert stored is None or stored.location_id != UNIT or [e.upload_id for e in stored.history] != [UPLOAD]


def test_a_move_into_another_facilitys_unit_names_the_learner_and_moves_nothing() -> None:
    # Given a MOVE row whose unit is in another facility than the upload's
    repo = Repository()
    repo.learners[(AGENCY, "K3")] = existing_learner("K3")
    repo.locations["unit-far"] = location("unit-far", "fac-far")
    # When it is applied
    outcome = apply(repo, move_entry(14, "K3")._replace(location_id="unit-far"), move_existing=True)
    # Then it fails naming the learner, and the learner stays where it was
    assert (outcome.outcome, outcome.learner_id) == ("FAILED", "id-K3")
    assert outcome.message is not None and outcome.message.startswith("Location unit-far is in facility fac-far")
    assert repo.learners[(AGENCY, "K3")] == existing_learner("K3")
