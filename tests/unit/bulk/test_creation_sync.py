"""A sync's UPDATE and DEACTIVATE entries applied by intake.bulk.creation.apply_entry, with an in-memory repository."""

from __future__ import annotations

import csv
import io

import pytest

from intake.bulk import creation
from intake.bulk.types import DEACTIVATE, UPDATE, ExistingLearner, PlanEntry
from intake.domain import HistoryEntry, HistoryKind, Learner, LearnerEdit, LearnerStatus, Location, UploadMode
from tests.unit.bulk.test_creation import DATA_KEY, UPLOAD, upload
from tests.unit.learner_fakes import (
    AGENCY,
    FACILITY,
    OTHER_FACILITY,
    OTHER_UNIT,
    UNIT,
    Repository,
    location,
    stored_learner,
)

UNIT_B = "unit-oak-b"


def repo_with(*doc_ids: str) -> Repository:
    """Active learners of the upload's facility at UNIT, each at version 3 (changed twice since created)."""
    repo = Repository()
    repo.locations[UNIT_B] = location(UNIT_B, FACILITY)
    for doc_id in doc_ids:
        repo.learners[(AGENCY, doc_id)] = stored_learner(doc_id, username=f"dlee{doc_id.lower()}", version=3)
    return repo


def sync_entry(line: int, doc_id: str, action: str, version: int = 3, **row: object) -> PlanEntry:
    fields: dict[str, object] = {
        "line": line,
        "request_id": f"r{line}" if action == UPDATE else "",
        "action": action,
        "doc_id": doc_id,
        "first_name": "Dee",
        "last_name": "Lee",
        "date_of_birth": "01/02/1990",
        "location_id": UNIT,
        "facility_id": FACILITY,
        "agency_id": AGENCY,
        "existing": ExistingLearner(f"id-{doc_id}", UNIT, FACILITY, LearnerStatus.ACTIVE, version),
        **row,
    }
    return PlanEntry(**fields)  # type: ignore[arg-type]


def sync_upload():
    return upload().model_copy(update={"mode": UploadMode.SYNC})


def apply(repo: Repository, plan_entry: PlanEntry) -> creation._Outcome:
    outcome = creation.apply_entry(plan_entry, sync_upload(), {}, DATA_KEY, repo)
    assert outcome.row is plan_entry  # every outcome is of its own row: results.csv writes the row's line and cells
    return outcome


def history(learner: Learner) -> list[tuple[HistoryKind, str | None, tuple[str, ...]]]:
    return [(e.kind, e.upload_id, e.fields) for e in learner.history if e.kind is not HistoryKind.CREATED]


def test_an_update_writes_the_changed_fields_once_as_an_edit_of_the_upload() -> None:
    # Given an active learner, and a roster row with a new last name and another housing unit of the facility
    repo = repo_with("U1")
    row = sync_entry(2, "U1", UPDATE, last_name="Lane", location_id=UNIT_B, changed=("lastName", "locationId"))
    # When the entry is applied, then applied again (a redelivered part)
    first, again = apply(repo, row), apply(repo, row)
    # Then the learner has the new name and unit in its facility, one EDITED entry naming the fields, one write
    learner = repo.learners[(AGENCY, "U1")]
    assert (first.outcome, again.outcome) == ("UPDATED", "UPDATED")
    assert (learner.last_name, learner.first_name, learner.location_id, learner.facility_id) == (
        "Lane",
        "Dee",
        UNIT_B,
        FACILITY,
    )
    assert history(learner) == [(HistoryKind.EDITED, UPLOAD, ("lastName", "locationId"))]
    assert (repo.writes, learner.version) == (2, 4)  # the repeat's conditional write was refused: nothing twice
    assert first.password == again.password == ""  # a sync never issues or changes a password
    assert repo.hashes == {}


def test_a_deactivation_makes_the_learner_inactive_once() -> None:
    # Given an active learner missing from the roster
    repo = repo_with("D1")
    row = sync_entry(9, "D1", DEACTIVATE)
    # When the entry is applied twice
    first, again = apply(repo, row), apply(repo, row)
    # Then it is inactive, with one DEACTIVATED entry of the upload, written once
    learner = repo.learners[(AGENCY, "D1")]
    assert (first.outcome, again.outcome, first.learner_id) == ("DEACTIVATED", "DEACTIVATED", "id-D1")
    assert learner.status is LearnerStatus.INACTIVE
    assert history(learner) == [(HistoryKind.DEACTIVATED, UPLOAD, ())]
    assert learner.version == 4  # one write applied (the repeat's was refused)


def _edited_by_staff(learner: Learner) -> Learner:
    return learner.model_copy(update={"first_name": "Staff", "version": learner.version + 1})


CHANGES = {
    "edited": _edited_by_staff,
    "moved": lambda learner: learner.model_copy(
        update={"location_id": OTHER_UNIT, "facility_id": OTHER_FACILITY, "version": learner.version + 1}
    ),
    "deactivated": lambda learner: learner.model_copy(
        update={"status": LearnerStatus.INACTIVE, "version": learner.version + 1}
    ),
    "password-reset": lambda learner: learner.model_copy(update={"version": learner.version + 1}),
}


@pytest.mark.parametrize("action", [UPDATE, DEACTIVATE])
@pytest.mark.parametrize("change", [*CHANGES, "deleted", "replaced"])
def test_a_learner_changed_since_planning_is_changed_since_plan_and_kept(action: str, change: str) -> None:
    # Given a learner changed (or gone) after the plan was made
    repo = repo_with("C1")
    key = (AGENCY, "C1")
    if change == "deleted":
        del repo.learners[key]
    elif change == "replaced":
        repo.learners[key] = repo.learners[key].model_copy(update={"learner_id": "someone-else"})
    else:
        repo.learners[key] = CHANGES[change](repo.learners[key])
    before = repo.learners.get(key)
    row = sync_entry(2, "C1", action, first_name="Dee", last_name="Lane", changed=("lastName",))
    # When its entry is applied
    outcome = apply(repo, row)
    # Then nothing is written over the change, and the row says why (no password, no date of birth)
    assert outcome.outcome == creation.CHANGED_SINCE_PLAN
    assert outcome.message == creation.CHANGED_SINCE_PLAN_MESSAGE
    assert repo.learners.get(key) == before and repo.writes <= 1  # at most one refused conditional write


def test_an_entry_planned_without_a_version_is_never_applied() -> None:
    repo = repo_with("V1")
    outcome = apply(repo, sync_entry(2, "V1", DEACTIVATE, version=0))
    assert outcome.outcome == creation.CHANGED_SINCE_PLAN and repo.writes == 0
    assert repo.learners[(AGENCY, "V1")].status is LearnerStatus.ACTIVE


def test_an_update_to_a_unit_deactivated_or_of_another_facility_fails_and_changes_nothing() -> None:
    repo = repo_with("L1")
    repo.locations[UNIT_B] = location(UNIT_B, FACILITY, active=False)
    for unit in (UNIT_B, OTHER_UNIT):
        outcome = apply(repo, sync_entry(2, "L1", UPDATE, location_id=unit, changed=("locationId",)))
        assert outcome.outcome == "FAILED" and repo.writes == 0
    assert repo.learners[(AGENCY, "L1")].location_id == UNIT


class EditedJustBefore(Repository):
    """Staff edit the learner just before the worker's conditional write (which is then refused)."""

    def update_at_version(
        self, learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
    ) -> bool:
        staff = entry.model_copy(update={"by": "staff", "upload_id": None})
        super().update_details(learner, LearnerEdit(first_name="Staff"), staff, None)
        return super().update_at_version(learner, changes, entry, destination)

    def set_status_at_version(self, learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> bool:
        staff = entry.model_copy(update={"kind": HistoryKind.EDITED, "by": "staff", "upload_id": None})
        super().update_details(learner, LearnerEdit(first_name="Staff"), staff, None)
        return super().set_status_at_version(learner, status, entry)


@pytest.mark.parametrize("action", [UPDATE, DEACTIVATE])
def test_a_write_refused_by_a_concurrent_staff_edit_is_changed_since_plan(action: str) -> None:
    # Given staff editing the learner just before the worker's write
    repo = EditedJustBefore()
    repo.learners.update(repo_with("R1").learners)
    # When the entry is applied
    outcome = apply(repo, sync_entry(2, "R1", action, last_name="Lane", changed=("lastName",)))
    # Then the conditional write was refused: the staff edit stays, nothing of the sync is applied
    learner = repo.learners[(AGENCY, "R1")]
    assert outcome.outcome == creation.CHANGED_SINCE_PLAN
    assert (learner.first_name, learner.last_name, learner.status) == ("Staff", "Lee", LearnerStatus.ACTIVE)


class LostAnswer(Repository):
    """The write is applied but its answer is lost: the caller sees a refusal (the retry's condition failed)."""

    def update_at_version(
        self, learner: Learner, changes: LearnerEdit, entry: HistoryEntry, destination: Location | None
    ) -> bool:
        assert super().update_at_version(learner, changes, entry, destination)
        return False

    def set_status_at_version(self, learner: Learner, status: LearnerStatus, entry: HistoryEntry) -> bool:
        assert super().set_status_at_version(learner, status, entry)
        return False


@pytest.mark.parametrize("action", [UPDATE, DEACTIVATE])
def test_a_write_whose_answer_was_lost_is_recognised_as_the_upload_own(action: str) -> None:
    repo = LostAnswer()
    repo.learners.update(repo_with("W1").learners)
    outcome = apply(repo, sync_entry(2, "W1", action, last_name="Lane", changed=("lastName",)))
    assert outcome.outcome == {UPDATE: "UPDATED", DEACTIVATE: "DEACTIVATED"}[action]
    assert len(history(repo.learners[(AGENCY, "W1")])) == 1


def test_audit_entries_counts_and_result_rows_of_a_sync_part() -> None:
    # Given a part of one update, one deactivation and one learner changed since planning
    repo = repo_with("A1", "A2", "A3")
    repo.learners[(AGENCY, "A3")] = _edited_by_staff(repo.learners[(AGENCY, "A3")])
    the_upload = sync_upload()
    outcomes = [
        creation.apply_entry(e, the_upload, {}, DATA_KEY, repo)
        for e in (
            sync_entry(2, "A1", UPDATE, first_name="=Bee", changed=("firstName",)),
            sync_entry(10, "A2", DEACTIVATE),
            sync_entry(11, "A3", DEACTIVATE),
        )
    ]
    # Then the audit has the update (with its fields) and the deactivation, by ids, keyed by upload and line
    entries = creation._audit_entries(the_upload, outcomes)
    assert [(e.scope, e.action, e.target_id, e.details) for e in entries] == [
        (FACILITY, "LEARNER_UPDATED", "id-A1", {"uploadId": UPLOAD, "fields": "firstName"}),
        (FACILITY, "LEARNER_DEACTIVATED", "id-A2", {"uploadId": UPLOAD}),
    ]
    assert entries[1].entry_id == "2026-01-01T01:00:00.000000Z#up-1:0000010"
    # And results.csv rows carry no password, a neutralised name, and the reason of the refused row
    rows = list(csv.reader(io.StringIO(creation._csv(UPLOAD, outcomes, DATA_KEY).decode())))
    assert [(r[0], r[3], r[5], r[6], r[7], r[8]) for r in rows] == [
        ("2", "'=Bee", "id-A1", UNIT, "UPDATED", ""),
        ("10", "Dee", "id-A2", UNIT, "DEACTIVATED", ""),
        ("11", "Dee", "id-A3", UNIT, creation.CHANGED_SINCE_PLAN, ""),
    ]
    assert rows[2][9] == creation.CHANGED_SINCE_PLAN_MESSAGE


class CountingReads(Repository):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get_by_doc_id(self, agency_id: str, doc_id: str) -> Learner | None:
        self.reads += 1
        return super().get_by_doc_id(agency_id, doc_id)


def test_an_update_or_deactivation_as_planned_is_one_write_and_no_read() -> None:
    # Given learners still as planned
    repo = CountingReads()
    repo.learners.update(repo_with("N1", "N2").learners)
    # When an update and a deactivation are applied
    outcomes = [
        apply(repo, sync_entry(2, "N1", UPDATE, date_of_birth="02/03/1991", changed=("dateOfBirth",))),
        apply(repo, sync_entry(9, "N2", DEACTIVATE)),
    ]
    # Then each is one conditional write, with no read (a read follows only a refused write)
    assert [o.outcome for o in outcomes] == ["UPDATED", "DEACTIVATED"]
    assert (repo.writes, repo.reads) == (2, 0)
    assert repo.learners[(AGENCY, "N1")].date_of_birth == "02/03/1991"
