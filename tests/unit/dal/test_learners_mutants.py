"""intake.dal.learners: what its mutation run (issue 21, 2026-12-03) found unchecked, each read back from DynamoDB:
a search's housing-unit filter, a search with nothing to search for, a cursor of the wrong shape, a status change
from a stale read, the status kept on an item of another status, the name keys a status change fills in, and the
migration's scan of an item missing only one of its v2 attributes."""

from __future__ import annotations

import base64
import json

import boto3
import pytest

from intake.dal import learners
from intake.dal.tables import LearnerItem
from intake.domain import HistoryKind, LearnerEdit, LearnerStatus, history_entry
from intake.errors import Conflict, StorageUnavailable, ValidationFailed
from intake.settings import get_settings
from tests.unit.dal.test_learners import AT, _learner, _stored
from tests.unit.test_learner_migration import _put_v1_item

ACTIVE = (LearnerStatus.ACTIVE,)


def _two_units() -> None:
    """Ada Lovelace in unit-a (D100) and in unit-c (D200) of ridge, and Ann Lovelace in unit-c (D300)."""
    learners.insert_learner(_learner("D100", "L-1"), "h")
    learners.insert_learner(_learner("D200", "L-2", location_id="unit-c"), "h")
    learners.insert_learner(_learner("D300", "L-3", first_name="Ann", location_id="unit-c"), "h")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("lovelace", ["L-2", "L-3"]),  # a last name: byRosterName, the unit filter alone
        ("ann", ["L-3"]),  # a first name: byRosterFirst
        ("lovelacead200", ["L-2"]),  # a username: byRosterDocId (nothing) and byRosterName with its own filter too
        ("d2", ["L-2"]),  # a DOC ID prefix: byRosterDocId
    ],
)
def test_a_search_in_one_housing_unit_finds_only_that_units_learners(aws, q, expected):
    # Given learners of the same names in two housing units of one facility
    _two_units()
    # When the facility is searched within unit-c, Then only unit-c's learners that match are found, by name
    found = learners.search_roster("fac-ridge", ACTIVE, q, "unit-c", 50)
    assert sorted(learner.learner_id for learner in found) == expected
    # And without the unit, the other unit's matches are found too (the filter is what kept them out)
    everywhere = {learner.learner_id for learner in learners.search_roster("fac-ridge", ACTIVE, q, None, 50)}
    assert set(expected) <= everywhere


def test_a_username_search_in_a_unit_needs_both_its_filters(aws):
    # Given two learners whose usernames share their letters, in two units
    _two_units()
    # When unit-a is searched for the unit-c learner's username, Then nobody is found (the username filter and the
    # unit filter both hold, not either)
    assert learners.search_roster("fac-ridge", ACTIVE, "lovelacead200", "unit-a", 50) == []
    assert [x.learner_id for x in learners.search_roster("fac-ridge", ACTIVE, "lovelacead100", "unit-a", 50)] == ["L-1"]


def test_a_search_for_nothing_searchable_is_the_list_of_that_unit_and_status(aws):
    # Given three learners, one of them inactive
    _two_units()
    ann = learners.get_by_doc_id("ag", "D300")
    assert ann is not None
    learners.set_status(ann, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "r"))
    # When the search text has no letter or digit, Then the answer is the list itself: that unit, that status, limited
    assert [x.learner_id for x in learners.search_roster("fac-ridge", ACTIVE, " -- ", "unit-c", 50)] == ["L-2"]
    inactive = learners.search_roster("fac-ridge", (LearnerStatus.INACTIVE,), "--", None, 50)
    assert [x.learner_id for x in inactive] == ["L-3"]
    assert len(learners.search_roster("fac-ridge", ACTIVE, "..", None, 1)) == 1
    assert learners.search_roster("fac-lake", ACTIVE, "..", None, 50) == []


def _cursor(positions: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(positions).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "position",
    [
        {"agencyId": "ag", "docId": "D100", "roster": "fac-ridge#ACTIVE"},  # a key missing
        "fac-ridge#ACTIVE",  # not a position at all
    ],
)
def test_a_cursor_of_the_wrong_shape_is_refused_naming_the_cursor(aws, position):
    # Given a cursor that decodes, but whose position is not one a page gave
    _two_units()
    cursor = _cursor({"fac-ridge#ACTIVE": position})
    # When the list is asked for its next page with it, Then it is refused, saying what to do
    with pytest.raises(ValidationFailed) as refused:
        learners.list_roster("fac-ridge", ACTIVE, None, 1, cursor)
    [error] = refused.value.errors
    assert (error.field, error.code, error.message) == (
        "cursor",
        "INVALID_VALUE",
        "cursor is not one this list gave: start again",
    )


def test_the_next_page_continues_each_status_where_it_stopped(aws):
    # Given three active learners and two inactive ones
    for n in range(1, 6):
        learners.insert_learner(_learner(f"D10{n}", f"L-{n}", last_name=f"Name{n}"), "h")
    for doc_id in ("D104", "D105"):
        learner = learners.get_by_doc_id("ag", doc_id)
        assert learner is not None
        learners.set_status(learner, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "r"))
    statuses = (LearnerStatus.ACTIVE, LearnerStatus.INACTIVE)
    # When both statuses are listed two at a time, Then every learner comes once, in name order per page
    seen: list[str] = []
    page, cursor = learners.list_roster("fac-ridge", statuses, None, 2, None)
    seen += [x.learner_id for x in page]
    while cursor:
        page, cursor = learners.list_roster("fac-ridge", statuses, None, 2, cursor)
        assert len(page) <= 2
        seen += [x.learner_id for x in page]
    assert seen == ["L-1", "L-2", "L-3", "L-4", "L-5"]


def test_a_status_change_from_a_stale_read_still_applies(aws):
    # Given a learner read, then edited by someone else (its version moved on)
    stale = learners.insert_learner(_learner(), "h")
    learners.update_details(stale, LearnerEdit(first_name="Augusta"), history_entry(HistoryKind.EDITED, AT, "r"), None)
    # When it is deactivated from the read before the edit
    done = learners.set_status(stale, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "r"))
    # Then the deactivation applies (a status change is conditional on the learner and its status, not its version)
    assert done is not None and done.status is LearnerStatus.INACTIVE
    raw = _stored("ag", "D100")
    assert raw is not None and raw["status"] == {"S": "INACTIVE"} and raw["firstName"] == {"S": "Augusta"}


def test_a_status_change_refused_says_the_learner_changed(aws):
    # Given a learner moved to another learner id under its DOC ID (another person's record now)
    learner = learners.insert_learner(_learner(), "h")
    other = learner.model_copy(update={"learner_id": "L-someone-else"})
    # When it is deactivated as that other learner, Then it is a Conflict in words, and the item is unchanged
    before = _stored("ag", "D100")
    with pytest.raises(Conflict) as refused:
        learners.set_status(other, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "r"))
    assert refused.value.message == "The learner was changed by someone else meanwhile; reload and try again"
    assert _stored("ag", "D100") == before


def test_a_status_change_at_a_version_is_refused_when_the_status_is_already_that_one(aws):
    # Given an inactive learner, read at its current version
    learner = learners.insert_learner(_learner(), "h")
    inactive = learners.set_status(learner, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "r"))
    assert inactive is not None
    before = _stored("ag", "D100")
    # When a sync deactivates it again at that very version, Then it is refused (the status condition holds too)
    assert not learners.set_status_at_version(
        inactive, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "sync")
    )
    assert _stored("ag", "D100") == before


def _remove(doc_id: str, *attributes: str) -> None:
    boto3.client("dynamodb", region_name="us-east-1").update_item(
        TableName=get_settings().learners_table,
        Key={"agencyId": {"S": "ag"}, "docId": {"S": doc_id}},
        UpdateExpression="REMOVE " + ", ".join(f"#a{n}" for n in range(len(attributes))),
        ExpressionAttributeNames={f"#a{n}": name for n, name in enumerate(attributes)},
    )


def test_a_status_change_fills_in_the_name_keys_an_old_item_lacks(aws):
    # Given a learner whose item lost its three name keys (as an item stored before the roster indexes)
    learner = learners.insert_learner(_learner(), "h")
    inserted = _stored("ag", "D100")
    assert inserted is not None
    _remove("D100", "nameKey", "firstKey", "docKey")
    # When it is deactivated
    learners.set_status(learner, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "r"))
    # Then its item has all three keys again, as an insert writes them
    raw = _stored("ag", "D100")
    assert raw is not None
    keys = ("nameKey", "firstKey", "docKey")
    assert [raw[key] for key in keys] == [inserted[key] for key in keys]
    assert [raw[key]["S"] for key in keys] == ["lovelaceada#D100", "adalovelace#D100", "d100"]


@pytest.mark.parametrize("missing", ["status", "username", "roster", "nameKey", "firstKey", "docKey", "updatedAt"])
def test_the_migration_scan_finds_an_item_missing_any_one_v2_attribute(aws, missing):
    # Given a v2 learner, a v1 item, and a v2 learner missing only this one attribute
    learners.insert_learner(_learner("D100", "L-1"), "h")
    _put_v1_item("D900", "L-9")
    learners.insert_learner(_learner("D200", "L-2"), "h")
    _remove("D200", missing)
    # When the migration scans, Then it finds the v1 item and the one missing an attribute, not the whole one
    assert sorted(learner.learner_id for learner in learners.unmigrated(page_size=1)) == ["L-2", "L-9"]
    assert LearnerItem.count() == 3


def test_the_active_roster_gives_each_learner_its_own_details(aws):
    # Given two active learners of ridge who differ in every detail a sync compares, and one never versioned
    learners.insert_learner(_learner("D100", "L-1"), "h")
    learners.insert_learner(
        _learner("D200", "L-2", first_name="Grace", last_name="Hopper", date_of_birth="12/09/1986", location_id="u-c"),
        "h",
    )
    _remove("D200", "version")
    # When the sync reads the facility's active roster
    roster = {learner.doc_id: learner for learner in learners.active_roster("fac-ridge")}
    # Then each learner has its own unit, names and date of birth (not the first row's), and a missing version is 1
    first, second = roster["D100"], roster["D200"]
    assert (first.location_id, first.first_name, first.last_name, first.date_of_birth) == (
        "unit-a",
        "Ada",
        "Lovelace",
        "12/10/1990",
    )
    assert (second.location_id, second.first_name, second.last_name, second.date_of_birth) == (
        "u-c",
        "Grace",
        "Hopper",
        "12/09/1986",
    )
    assert second.version == 1


def test_a_reactivation_of_an_item_without_a_status_finds_it_active_already(aws):
    # Given a v1 item (no status attribute: it reads as ACTIVE)
    _put_v1_item("D900", "L-9")
    learner = learners.get_by_doc_id("ag", "D900")
    assert learner is not None and learner.status is LearnerStatus.ACTIVE
    before = _stored("ag", "D900")
    # When it is set ACTIVE, Then nothing is written (it is active already), and it still has no status attribute
    assert learners.set_status(learner, LearnerStatus.ACTIVE, history_entry(HistoryKind.REACTIVATED, AT, "r")) is None
    assert _stored("ag", "D900") == before


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda: list(learners.whole_roster("fac-ridge", ACTIVE)), "read the facility's learners"),
        (lambda: list(learners.unmigrated()), "scan the learners"),
    ],
    ids=["whole_roster", "unmigrated"],
)
def test_a_read_refused_by_storage_names_what_could_not_be_done(aws, refuse, call, what):
    # Given a learner, and DynamoDB throttling queries and scans
    learners.insert_learner(_learner(), "h")
    refuse("dynamodb", "Query", "ProvisionedThroughputExceededException")
    refuse("dynamodb", "Scan", "ProvisionedThroughputExceededException")
    # When the read is made, Then the domain error names it
    with pytest.raises(StorageUnavailable) as raised:
        call()
    assert raised.value.message == f"Could not {what} right now; try again in a moment"
