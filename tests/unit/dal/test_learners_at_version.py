"""intake.dal.learners' conditional writes at a version, as the roster sync applies them (update_at_version,
set_status_at_version) over moto: written once at the planned version, refused (nothing written) otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake.dal import learners
from intake.domain import HistoryKind, LearnerEdit, LearnerStatus, Location, LocationKind, history_entry, move_of
from tests.unit.dal.test_learners import LAKE_B, RIDGE_A, _learner

AT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
RIDGE_B = Location(
    location_id="unit-rb", name="B", agency_id="ag", facility_id="fac-ridge", kind=LocationKind.HOUSING_UNIT
)


def _edit(*fields: str):
    return history_entry(HistoryKind.EDITED, AT, "sync", upload_id="up-sync", fields=fields)


def test_an_update_at_the_stored_version_sets_only_the_changed_details_and_the_name_keys(aws):
    # Given Ada Lovelace, stored once (version 1)
    ada = learners.insert_learner(_learner(), "h1")
    # When a sync renames her last name and moves her to another unit of her facility, at version 1
    done = learners.update_at_version(ada, LearnerEdit(last_name="Byron"), _edit("lastName", "locationId"), RIDGE_B)
    # Then it is written once: the new last name and unit, her first name and date of birth kept, one version on,
    # the edit of the upload in her history, and a search by her new name finds her
    stored = learners.get_by_doc_id("ag", "D100")
    assert done is True and stored is not None
    assert (stored.first_name, stored.last_name, stored.date_of_birth) == ("Ada", "Byron", "12/10/1990")
    where = (stored.location_id, stored.facility_id, stored.version, stored.updated_at)
    assert where == ("unit-rb", "fac-ridge", 2, AT)
    assert [(e.kind, e.upload_id, e.fields) for e in stored.history[1:]] == [
        (HistoryKind.EDITED, "up-sync", ("lastName", "locationId"))
    ]
    found = learners.search_roster("fac-ridge", (LearnerStatus.ACTIVE,), "byron ada", None, 10)
    assert [f.doc_id for f in found] == ["D100"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (LearnerEdit(first_name="Bea"), ("Bea", "Lovelace", "12/10/1990")),
        (LearnerEdit(date_of_birth="01/02/1991"), ("Ada", "Lovelace", "01/02/1991")),
    ],
)
def test_an_update_writes_no_detail_it_was_not_given(aws, edit, expected):
    ada = learners.insert_learner(_learner(), "h1")
    assert learners.update_at_version(ada, edit, _edit("x"), None) is True
    stored = learners.get_by_doc_id("ag", "D100")
    assert stored is not None
    assert (stored.first_name, stored.last_name, stored.date_of_birth, stored.location_id) == (*expected, "unit-a")


def test_an_update_at_a_version_that_moved_on_is_refused_and_writes_nothing(aws):
    # Given Ada, edited by staff after the sync planned her (version 2 now)
    ada = learners.insert_learner(_learner(), "h1")
    learners.update_details(ada, LearnerEdit(first_name="Staff"), _edit("firstName"), None)
    before = learners.get_by_doc_id("ag", "D100")
    # When the sync's update at version 1 is written, Then it is refused, and nothing of it is stored
    assert learners.update_at_version(ada, LearnerEdit(last_name="Byron"), _edit("lastName"), None) is False
    assert learners.get_by_doc_id("ag", "D100") == before


def test_an_update_of_another_learner_under_the_same_doc_id_is_refused(aws):
    ada = learners.insert_learner(_learner(), "h1")
    someone_else = ada.model_copy(update={"learner_id": "L-other"})
    assert learners.update_at_version(someone_else, LearnerEdit(last_name="Byron"), _edit("lastName"), None) is False
    stored = learners.get_by_doc_id("ag", "D100")
    assert stored is not None and (stored.last_name, stored.version) == ("Lovelace", 1)


def test_a_deactivation_at_the_stored_version_writes_once_and_a_repeat_is_refused(aws):
    # Given an active learner at version 1
    ada = learners.insert_learner(_learner(), "h1")
    entry = history_entry(HistoryKind.DEACTIVATED, AT, "sync", upload_id="up-sync")
    # When the sync deactivates her at version 1, then again (a redelivered part)
    first = learners.set_status_at_version(ada, LearnerStatus.INACTIVE, entry)
    again = learners.set_status_at_version(ada, LearnerStatus.INACTIVE, entry)
    # Then the first is written (inactive roster, one version on, the upload's entry), the repeat refused
    stored = learners.get_by_doc_id("ag", "D100")
    assert (first, again) == (True, False) and stored is not None
    assert (stored.status, stored.version) == (LearnerStatus.INACTIVE, 2)
    assert [(e.kind, e.upload_id) for e in stored.history[1:]] == [(HistoryKind.DEACTIVATED, "up-sync")]
    assert learners.list_roster("fac-ridge", (LearnerStatus.ACTIVE,), None, 50, None) == ([], None)
    assert [s.doc_id for s in learners.list_roster("fac-ridge", (LearnerStatus.INACTIVE,), None, 50, None)[0]] == [
        "D100"
    ]


@pytest.mark.parametrize("change", ["edited", "moved", "reactivated-at-another-version"])
def test_a_deactivation_of_a_learner_changed_since_it_was_read_is_refused(aws, change):
    # Given a learner read at version 1, then changed: edited, moved to another facility, or deactivated and
    # reactivated (active again, but at version 3)
    ada = learners.insert_learner(_learner(), "h1")
    if change == "edited":
        learners.update_details(ada, LearnerEdit(first_name="Staff"), _edit("firstName"), None)
    elif change == "moved":
        learners.move_learner(ada, LAKE_B, move_of(ada, LAKE_B, AT, "north"))
    else:
        off = learners.set_status(ada, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "x"))
        assert off is not None
        assert learners.set_status(off, LearnerStatus.ACTIVE, history_entry(HistoryKind.REACTIVATED, AT, "x"))
    before = learners.get_by_doc_id("ag", "D100")
    # When the deactivation planned at version 1 is written, Then it is refused and nothing changes
    entry = history_entry(HistoryKind.DEACTIVATED, AT, "sync", upload_id="up-sync")
    assert learners.set_status_at_version(ada, LearnerStatus.INACTIVE, entry) is False
    assert learners.get_by_doc_id("ag", "D100") == before


def test_an_undo_reactivates_at_the_version_the_deactivation_left(aws):
    # Given a learner deactivated by a sync (version 2)
    ada = learners.insert_learner(_learner(), "h1")
    off = history_entry(HistoryKind.DEACTIVATED, AT, "sync", upload_id="up-sync")
    assert learners.set_status_at_version(ada, LearnerStatus.INACTIVE, off)
    deactivated = learners.get_by_doc_id("ag", "D100")
    assert deactivated is not None and deactivated.version == 2
    # When the undo reactivates at version 2, Then she is active again, at version 3; at version 1 it is refused
    on = history_entry(HistoryKind.REACTIVATED, AT, "ridge", upload_id="up-sync")
    assert learners.set_status_at_version(ada, LearnerStatus.ACTIVE, on) is False
    assert learners.set_status_at_version(deactivated, LearnerStatus.ACTIVE, on) is True
    stored = learners.get_by_doc_id("ag", "D100")
    assert stored is not None and (stored.status, stored.version, stored.location_id) == (
        LearnerStatus.ACTIVE,
        3,
        RIDGE_A.location_id,
    )
