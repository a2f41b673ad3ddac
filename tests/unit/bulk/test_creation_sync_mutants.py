"""Tests the mutation run of intake/bulk/creation.py asked for (docs/reliability.md): each outcome of a sync entry
and of a create that cannot be applied says exactly which row, which learner and why; only the fields the plan
names are written; a blank password follows the facility's format and differs from line to line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from intake import passwords
from intake.bulk import creation
from intake.bulk.types import DEACTIVATE, MOVE, UPDATE, ExistingLearner, PlanEntry
from intake.domain import HistoryKind, LearnerStatus, PasswordRule
from tests.unit.bulk.test_creation import UPLOAD, entry, existing_learner, inactive, move_entry, reactivate_entry
from tests.unit.bulk.test_creation import apply as apply_create
from tests.unit.bulk.test_creation_sync import UNIT_B, apply, repo_with, sync_entry, sync_upload
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

NOT_OURS = "The plan of this row is not a change of a learner of this upload's facility ({action}): nothing was changed"
NEW = {
    "firstName": ("first_name", "Bea"),
    "lastName": ("last_name", "Lane"),
    "dateOfBirth": ("date_of_birth", "03/04/1991"),
}


@pytest.mark.parametrize("field", ["firstName", "lastName", "dateOfBirth", "locationId"])
def test_an_update_writes_only_the_field_the_plan_names(field: str) -> None:
    # Given a roster row that differs from the learner in every detail, planned as a change of one field
    repo = repo_with("F1")
    before = repo.learners[(AGENCY, "F1")]
    details: dict[str, Any] = dict(NEW.values())
    row = sync_entry(2, "F1", UPDATE, **details, location_id=UNIT_B, changed=(field,))
    # When it is applied
    outcome = apply(repo, row)
    # Then that field alone is written, and the edit names it
    after = repo.learners[(AGENCY, "F1")]
    expected = {"first_name": "Dee", "last_name": "Lee", "date_of_birth": "01/02/1990", "location_id": UNIT}
    if field == "locationId":
        expected["location_id"] = UNIT_B
    else:
        expected[NEW[field][0]] = NEW[field][1]
    assert (outcome.outcome, outcome.learner_id) == ("UPDATED", "id-F1")
    assert {name: getattr(after, name) for name in expected} == expected
    assert [(e.kind, e.fields, e.by) for e in after.history if e.kind is HistoryKind.EDITED] == [
        (HistoryKind.EDITED, (field,), "confirmer")
    ]
    assert after.version == before.version + 1


@pytest.mark.parametrize("action", [UPDATE, DEACTIVATE])
def test_an_entry_planned_at_version_one_is_applied(action: str) -> None:
    # Given a learner created once and never changed (version 1), planned at that version
    repo = Repository()
    repo.learners[(AGENCY, "V1")] = stored_learner("V1", version=1)
    row = sync_entry(2, "V1", action, version=1, last_name="Lane", changed=("lastName",))
    # When it is applied, Then it is (only version 0, a plan made before versions were kept, is never applied)
    outcome = apply(repo, row)
    assert outcome.outcome == {UPDATE: "UPDATED", DEACTIVATE: "DEACTIVATED"}[action]
    assert repo.learners[(AGENCY, "V1")].version == 2


@pytest.mark.parametrize("action", [UPDATE, DEACTIVATE])
def test_an_entry_without_a_version_is_reported_on_its_own_line_and_learner(action: str) -> None:
    repo = repo_with("S1")
    row = sync_entry(7, "S1", action, version=0, last_name="Lane", changed=("lastName",))
    outcome = apply(repo, row)
    assert (outcome.row, outcome.outcome, outcome.learner_id, outcome.message) == (
        row,
        creation.CHANGED_SINCE_PLAN,
        "id-S1",
        creation.CHANGED_SINCE_PLAN_MESSAGE,
    )
    assert repo.writes == 0


@pytest.mark.parametrize(
    ("action", "whose"),
    [
        (UPDATE, "row-of-another-facility"),
        (UPDATE, "learner-of-another-facility"),
        (UPDATE, "no-field"),  # a deactivation names no fields
        (DEACTIVATE, "row-of-another-facility"),
        (DEACTIVATE, "learner-of-another-facility"),
    ],
)
def test_an_entry_that_is_not_a_change_of_this_facilitys_learner_changes_nothing(action: str, whose: str) -> None:
    # Given a plan entry naming another facility, either on its row or on the learner the planner saw (or, for an
    # update, naming no field to change)
    repo = repo_with("O1")
    before = repo.learners[(AGENCY, "O1")]
    changes: dict[str, Any] = {"changed": () if whose == "no-field" else ("lastName",), "last_name": "Lane"}
    if whose == "row-of-another-facility":
        changes["facility_id"] = OTHER_FACILITY
    if whose == "learner-of-another-facility":
        changes["existing"] = ExistingLearner("id-O1", UNIT, OTHER_FACILITY, LearnerStatus.ACTIVE, 3)
    row = sync_entry(4, "O1", action, **changes)
    # When it is applied
    outcome = apply(repo, row)
    # Then it fails on its own line and learner, in words that say so, and nothing is written
    assert (outcome.row, outcome.outcome, outcome.learner_id, outcome.message) == (
        row,
        "FAILED",
        "id-O1",
        NOT_OURS.format(action=action),
    )
    assert repo.writes == 0 and repo.learners[(AGENCY, "O1")] == before


def test_an_update_to_a_unit_deactivated_since_planning_says_which_unit() -> None:
    repo = repo_with("L1")
    repo.locations[UNIT_B] = location(UNIT_B, FACILITY, active=False)
    row = sync_entry(5, "L1", UPDATE, location_id=UNIT_B, changed=("locationId",))
    outcome = apply(repo, row)
    assert (outcome.row, outcome.outcome, outcome.learner_id, outcome.message) == (
        row,
        "FAILED",
        "id-L1",
        f"Location {UNIT_B} is no longer an active housing unit of facility {FACILITY}: nothing was changed",
    )


def test_a_move_applied_before_its_unit_was_deactivated_is_reported_updated_again() -> None:
    # Given an update to another unit applied once (its part then redelivered), and the unit deactivated since
    repo = repo_with("L2")
    row = sync_entry(5, "L2", UPDATE, location_id=UNIT_B, changed=("locationId",))
    assert apply(repo, row).outcome == "UPDATED"
    repo.locations[UNIT_B] = location(UNIT_B, FACILITY, active=False)
    # When the entry is applied again, Then its own earlier change is recognised: UPDATED, written once
    again = apply(repo, row)
    assert (again.outcome, again.learner_id) == ("UPDATED", "id-L2")
    assert repo.learners[(AGENCY, "L2")].location_id == UNIT_B
    assert len([e for e in repo.learners[(AGENCY, "L2")].history if e.kind is HistoryKind.EDITED]) == 1


def test_a_deactivation_is_recorded_by_the_staff_member_who_confirmed() -> None:
    repo = repo_with("B1")
    apply(repo, sync_entry(9, "B1", DEACTIVATE))
    entries = [e for e in repo.learners[(AGENCY, "B1")].history if e.kind is HistoryKind.DEACTIVATED]
    assert [(e.by, e.upload_id) for e in entries] == [("confirmer", UPLOAD)]


def test_a_create_whose_sealed_password_cannot_be_opened_fails_on_its_line_and_is_logged_by_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a create entry whose sealed password is damaged
    repo = Repository()
    row = entry(6, "U1", password="Given-pass-1")
    assert row.sealed_password is not None
    row = row._replace(sealed_password=row.sealed_password[:-4] + "AAAA")
    # When it is applied
    with caplog.at_level(logging.WARNING):
        outcome = apply_create(repo, row)
    # Then the row fails with no learner, and the warning names the upload and the line (never the password)
    assert (outcome.row, outcome.outcome, outcome.learner_id, outcome.message) == (
        row,
        "FAILED",
        "",
        creation.UNREADABLE_SEAL_MESSAGE,
    )
    assert repo.learners == {}
    warned = [r for r in caplog.records if r.getMessage() == "sealed password unreadable"]
    assert [(r.upload_id, r.line) for r in warned] == [(UPLOAD, 6)]  # type: ignore[attr-defined]


def test_blank_passwords_follow_the_facilitys_format_and_differ_from_line_to_line() -> None:
    # Given a facility whose blank passwords are made from a format
    repo = Repository()
    facility = repo.locations[FACILITY]
    rule = PasswordRule(blank_format="{lastName}{firstInitial}-{words:4}{random:4}")
    repo.locations[FACILITY] = facility.model_copy(update={"password_rule": rule})
    # When two rows of the upload with blank passwords are created, and one again (a redelivered part)
    first, second = apply_create(repo, entry(2, "P1")), apply_create(repo, entry(3, "P2"))
    again = apply_create(repo, entry(3, "P2"))
    # Then each follows the format, the two differ, and a repeat issues the same one
    assert first.password.startswith("LeeD-") and second.password.startswith("LeeD-")
    assert first.password != second.password
    assert again.password == second.password


CLOSED_UNIT = "unit-oak-closed"


def _moves_and_reactivations() -> dict[str, tuple[Callable[[Repository], None], PlanEntry, str, str]]:
    """Each refused move or reactivation: (how the store changed since checking, the entry, the learner id the row
    reports, the message)."""

    def moved_away(repo: Repository) -> None:
        repo.learners[(AGENCY, "M1")] = existing_learner("M1", location_id=OTHER_FACILITY)

    def deactivated(repo: Repository) -> None:
        repo.learners[(AGENCY, "M1")] = existing_learner("M1", status=LearnerStatus.INACTIVE)

    def still_there(repo: Repository) -> None:
        repo.learners[(AGENCY, "M1")] = existing_learner("M1")

    def gone(repo: Repository) -> None:
        pass

    def reactivated(repo: Repository) -> None:
        repo.learners[(AGENCY, "M1")] = existing_learner("M1")

    def inactive_there(repo: Repository) -> None:
        inactive(repo, "M1")

    closed_move = entry(2, "M1", location_id=CLOSED_UNIT, action=MOVE, existing=move_entry(2, "M1").existing)
    damaged = reactivate_entry(2, "M1", password="Given-pass-1")
    assert damaged.sealed_password is not None
    return {
        "move: moved since": (moved_away, move_entry(2, "M1"), "id-M1", "The learner moved since the file was checked"),
        "move: deactivated since": (deactivated, move_entry(2, "M1"), "id-M1", creation.DEACTIVATED_MEANWHILE_MESSAGE),
        "move: unit closed": (
            still_there,
            closed_move,
            "id-M1",
            "The destination location no longer accepts learners",
        ),
        "reactivate: gone": (
            gone,
            reactivate_entry(2, "M1"),
            "id-M1",
            "The learner no longer exists: nothing was changed",
        ),
        "reactivate: reactivated since": (
            reactivated,
            reactivate_entry(2, "M1"),
            "id-M1",
            creation.REACTIVATED_MEANWHILE_MESSAGE,
        ),
        "reactivate: unit closed": (
            inactive_there,
            reactivate_entry(2, "M1")._replace(location_id=CLOSED_UNIT),
            "id-M1",
            "The location was deactivated since the file was checked",
        ),
        "reactivate: damaged seal": (
            inactive_there,
            damaged._replace(sealed_password=damaged.sealed_password[:-4] + "AAAA"),
            "id-M1",
            creation.UNREADABLE_SEAL_MESSAGE,
        ),
        "reactivate: unit of another facility": (
            inactive_there,
            reactivate_entry(2, "M1")._replace(location_id=OTHER_UNIT),
            "id-M1",
            f"Location {OTHER_UNIT} is in facility {OTHER_FACILITY}, not in this upload's facility {FACILITY}: "
            f"nothing was done; put the row in an upload of facility {OTHER_FACILITY}",
        ),
    }


@pytest.mark.parametrize("case", list(_moves_and_reactivations()))
def test_a_refused_move_or_reactivation_names_its_line_learner_and_reason(case: str) -> None:
    # Given a learner changed since the file was checked (or a destination that no longer takes learners)
    change, plan_entry, learner_id, message = _moves_and_reactivations()[case]
    repo = Repository()
    repo.locations[CLOSED_UNIT] = location(CLOSED_UNIT, FACILITY, active=False)
    change(repo)
    before = dict(repo.learners)
    # When its entry is applied
    outcome = apply_create(repo, plan_entry, move_existing=True)
    # Then the row fails on its own line, with the learner's id and the reason, and nothing changed
    assert (outcome.row, outcome.outcome, outcome.learner_id, outcome.message, outcome.password) == (
        plan_entry,
        "FAILED",
        learner_id,
        message,
        "",
    )
    assert repo.learners == before


def test_a_reactivation_with_a_blank_password_follows_the_facilitys_format() -> None:
    # Given a facility whose blank passwords are made from a format, and an inactive learner of the agency
    repo = Repository()
    rule = PasswordRule(blank_format="{lastName}{firstInitial}-{words:4}{random:4}")
    repo.locations[FACILITY] = repo.locations[FACILITY].model_copy(update={"password_rule": rule})
    inactive(repo, "RF1")
    # When its row is reactivated with a blank password
    outcome = apply_create(repo, reactivate_entry(2, "RF1"))
    # Then the new password follows the facility's format, and opens the account
    assert outcome.outcome == "REACTIVATED" and outcome.password.startswith("LeeD-")
    assert passwords.verify_password(repo.hashes[(AGENCY, "RF1")], outcome.password)


def test_a_reactivation_whose_facility_is_gone_fails_naming_the_learner_and_changes_nothing() -> None:
    # Given an inactive learner, and an upload whose own facility no longer exists
    repo = Repository()
    left = inactive(repo, "RF2")
    del repo.locations[FACILITY]
    # When its row is reactivated
    outcome = apply_create(repo, reactivate_entry(3, "RF2"))
    # Then it fails naming the learner, which stays inactive where it was
    assert (outcome.outcome, outcome.learner_id) == ("FAILED", "id-RF2")
    assert outcome.message == f"Facility {FACILITY} no longer takes learners"
    assert repo.learners[(AGENCY, "RF2")] == left


def test_a_reactivation_of_a_learner_moved_since_the_check_names_the_learner() -> None:
    # Given an inactive learner moved to another unit since the file was checked
    repo = Repository()
    inactive(repo, "RF3")
    moved = repo.learners[(AGENCY, "RF3")].model_copy(update={"location_id": "unit-pine-b"})
    repo.learners[(AGENCY, "RF3")] = moved
    # When its row is reactivated, Then it fails naming the learner, and nothing changed
    outcome = apply_create(repo, reactivate_entry(4, "RF3"))
    assert (outcome.outcome, outcome.learner_id) == ("FAILED", "id-RF3")
    assert (
        outcome.message == "The learner was moved since the file was checked: nothing was changed; upload the row again"
    )
    assert repo.learners[(AGENCY, "RF3")] == moved


def test_each_kind_of_change_is_audited_as_a_learner_change_of_its_agency_and_facility_whole() -> None:
    # Given a sync of the upload's facility that updates two fields of one learner and deactivates another, and a
    # create-mode upload that moves one in and reactivates one
    repo = repo_with("AU1", "AU2")
    repo.learners[(AGENCY, "AM1")] = existing_learner("AM1")
    inactive(repo, "AR1")
    updated = apply(repo, sync_entry(2, "AU1", UPDATE, first_name="Bea", location_id=UNIT_B,
                                     changed=("locationId", "firstName")))  # fmt: skip
    deactivated = apply(repo, sync_entry(3, "AU2", DEACTIVATE))
    moved = apply_create(repo, move_entry(4, "AM1"), move_existing=True)
    reactivated = apply_create(repo, reactivate_entry(5, "AR1"))
    assert [o.outcome for o in (updated, deactivated, moved, reactivated)] == [
        "UPDATED",
        "DEACTIVATED",
        "MOVED",
        "REACTIVATED",
    ]
    # When the part's audit entries are made
    entries = creation._audit_entries(sync_upload(), [updated, deactivated]) + creation._audit_entries(
        sync_upload(), [moved, reactivated]
    )
    # Then each names the learner, its agency and the facility it is in now; a move and a reactivation are filed
    # under both facilities; an update names its fields (in the order staff read them), never their values
    seen = [(e.scope, e.action, e.target_type, e.target_id, e.agency_id, e.facility_id, e.details) for e in entries]
    from_there = {"uploadId": UPLOAD, "locationId": UNIT, "fromLocationId": OTHER_UNIT}
    assert seen == [
        (FACILITY, "LEARNER_UPDATED", "learner", "id-AU1", AGENCY, FACILITY,
         {"uploadId": UPLOAD, "fields": "firstName,locationId"}),
        (FACILITY, "LEARNER_DEACTIVATED", "learner", "id-AU2", AGENCY, FACILITY, {"uploadId": UPLOAD}),
        (OTHER_FACILITY, "LEARNER_MOVED", "learner", "id-AM1", AGENCY, FACILITY, from_there),
        (FACILITY, "LEARNER_MOVED", "learner", "id-AM1", AGENCY, FACILITY, from_there),
        (OTHER_FACILITY, "LEARNER_REACTIVATED", "learner", "id-AR1", AGENCY, FACILITY, from_there),
        (FACILITY, "LEARNER_REACTIVATED", "learner", "id-AR1", AGENCY, FACILITY, from_there),
    ]  # fmt: skip
    assert {e.actor for e in entries} == {"confirmer"}
