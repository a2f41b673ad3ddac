"""intake.learner_migration: learner items of today's shape (no username, status or roster keys) read as ACTIVE, are
upgraded exactly once, and then appear in the roster indexes."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from intake import learner_migration
from intake.dal import learners
from intake.dal.tables import LearnerItem, UsernameItem, bind_tables
from intake.domain import LearnerStatus
from intake.errors import UsernameTaken
from intake.settings import get_settings

AT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _put_v1_item(doc_id: str, learner_id: str, first: str = "José", last: str = "Núñez") -> None:
    """A learner item exactly as the code before usernames wrote it, with boto3 (no v2 attribute at all)."""
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=get_settings().learners_table,
        Item={
            "agencyId": {"S": "ag"},
            "docId": {"S": doc_id},
            "learnerId": {"S": learner_id},
            "firstName": {"S": first},
            "lastName": {"S": last},
            "dateOfBirth": {"S": "01/02/1990"},
            "locationId": {"S": "unit-a"},
            "facilityId": {"S": "fac-ridge"},
            "role": {"S": "Learner"},
            "passwordHash": {"S": "$argon2id$v1-hash"},
            "createdAt": {"S": "2025-06-01T10:00:00.000000+0000"},
            "createdBy": {"S": "ridge"},
            "history": {
                "L": [
                    {
                        "M": {
                            "fromLocationId": {"S": "unit-z"},
                            "fromFacilityId": {"S": "fac-z"},
                            "toLocationId": {"S": "unit-a"},
                            "toFacilityId": {"S": "fac-ridge"},
                            "movedAt": {"S": "2025-07-01T10:00:00.000000+0000"},
                            "movedBy": {"S": "lake"},
                        }
                    }
                ]
            },
            "version": {"N": "2"},
        },
    )


def test_an_item_of_todays_shape_reads_active_without_a_username_and_its_v1_move(aws):
    # Given an item written as today's code writes it
    _put_v1_item("D1", "L-1")
    # When it is read
    learner = learners.get_by_doc_id("ag", "D1")
    # Then it is ACTIVE, has no username yet, and its move reads as a MOVED entry after its creation
    assert learner is not None
    assert (learner.status, learner.username, learner.version) == (LearnerStatus.ACTIVE, None, 2)
    assert [e.kind.value for e in learner.history] == ["CREATED", "MOVED"]
    assert learner.history[1].at == learner.history[1].moved_at and learner.history[1].by == "lake"
    # And it is in no roster until migrated
    assert learners.list_roster("fac-ridge", (LearnerStatus.ACTIVE,), None, 50, None) == ([], None)


def test_the_migration_upgrades_each_old_item_exactly_once_and_then_it_is_listed(aws):
    # Given two old items whose names give the same first username, and one learner stored by v2 code
    _put_v1_item("D1", "L-1")
    _put_v1_item("E1", "L-2")
    bind_tables()
    # When the migration runs, twice
    first = learner_migration.migrate_learners()
    again = learner_migration.migrate_learners()
    # Then the first run migrated both, the second found nothing to do
    assert (first.found, first.migrated, first.unchanged) == (2, 2, 0)
    assert (again.found, again.migrated) == (0, 0)
    # And each has its own username (claimed), status ACTIVE, updatedAt, and the v1 hash and history kept
    one, two = learners.get_by_doc_id("ag", "D1"), learners.get_by_doc_id("ag", "E1")
    assert one is not None and two is not None
    assert {one.username, two.username} == {"nunezj1", "nunezj12"}
    assert {c.username: c.learnerId for c in UsernameItem.query("ag")} == {
        one.username: one.learner_id,
        two.username: two.learner_id,
    }
    assert one.status is LearnerStatus.ACTIVE and one.updated_at == one.created_at
    assert learners.stored_password_hash("ag", "D1") == "$argon2id$v1-hash"
    assert len(one.history) == 2 and one.version == 2
    # And both are now in the facility's roster and found by a search
    page, _ = learners.list_roster("fac-ridge", (LearnerStatus.ACTIVE,), None, 50, None)
    assert [p.doc_id for p in page] == ["D1", "E1"]
    assert [p.doc_id for p in learners.search_roster("fac-ridge", (LearnerStatus.ACTIVE,), "nunez", None, 5)] == [
        "D1",
        "E1",
    ]
    assert LearnerItem.get("ag", "D1").roster == "fac-ridge#ACTIVE"


def test_an_item_deactivated_before_its_migration_keeps_its_status(aws):
    # Given an old item that the v2 API deactivated (which writes status and roster, not a username)
    _put_v1_item("D1", "L-1")
    learner = learners.get_by_doc_id("ag", "D1")
    assert learner is not None
    from intake.domain import HistoryKind, history_entry

    learners.set_status(learner, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "ridge"))
    # When the migration runs
    report = learner_migration.migrate_learners()
    # Then it gets a username but stays INACTIVE, in the inactive roster
    after = learners.get_by_doc_id("ag", "D1")
    assert report.migrated == 1 and after is not None
    assert (after.status, after.username) == (LearnerStatus.INACTIVE, "nunezj1")
    assert learners.list_roster("fac-ridge", (LearnerStatus.INACTIVE,), None, 50, None)[0] == [after]


# migrate_item's own conditions (what the mutation run found unasserted, issue 21)


def _raw(doc_id: str) -> dict:
    item = LearnerItem._get_connection().get_item("ag", doc_id, consistent_read=True).get("Item")
    assert item is not None
    return item


def test_an_item_with_its_username_already_gets_only_the_missing_keys_and_keeps_that_username(aws):
    # Given an old item that already has its username (claimed), but no status, roster or name keys
    _put_v1_item("D1", "L-1")
    bind_tables()
    LearnerItem._get_connection().update_item("ag", "D1", actions=[LearnerItem.username.set("nunezj1")])
    learner = learners.get_by_doc_id("ag", "D1")
    assert learner is not None and learner.username == "nunezj1"
    # When it is migrated, offered another candidate
    assert learners.migrate_item(learner, "other1") is True
    # Then it keeps its username, and gains its status and roster
    raw = _raw("D1")
    assert (raw["username"], raw["status"], raw["roster"]) == (
        {"S": "nunezj1"},
        {"S": "ACTIVE"},
        {"S": "fac-ridge#ACTIVE"},
    )
    # And a migration of it as read with another username, or of another learner, or elsewhere, changes nothing
    before = _raw("D1")
    for changed in (
        learner.model_copy(update={"username": "nunezj9"}),
        learner.model_copy(update={"learner_id": "L-other"}),
        learner.model_copy(update={"facility_id": "fac-lake"}),
    ):
        assert learners.migrate_item(changed, "other1") is False
    assert _raw("D1") == before


def test_an_item_changed_since_it_was_read_is_not_migrated_and_its_candidate_is_not_claimed(aws):
    # Given an old item, read, then moved to another facility by someone else
    _put_v1_item("D1", "L-1")
    bind_tables()
    learner = learners.get_by_doc_id("ag", "D1")
    assert learner is not None
    LearnerItem._get_connection().update_item("ag", "D1", actions=[LearnerItem.facilityId.set("fac-lake")])
    before = _raw("D1")
    # When it is migrated as read, Then it is refused (False), the item is as it was, the username not claimed
    assert learners.migrate_item(learner, "nunezj1") is False
    assert _raw("D1") == before
    assert list(UsernameItem.query("ag")) == []
    # And a learner of another id under the DOC ID is refused the same way
    assert learners.migrate_item(learner.model_copy(update={"learner_id": "L-other"}), "nunezj1") is False
    assert list(UsernameItem.query("ag")) == []


def test_a_candidate_another_learner_holds_is_username_taken_naming_it_and_changes_nothing(aws):
    # Given two old items, the first migrated to username nunezj1
    _put_v1_item("D1", "L-1")
    _put_v1_item("E1", "L-2")
    first = learners.get_by_doc_id("ag", "D1")
    second = learners.get_by_doc_id("ag", "E1")
    assert first is not None and second is not None
    assert learners.migrate_item(first, "nunezj1") is True
    before = _raw("E1")
    # When the second is migrated with the same candidate
    with pytest.raises(UsernameTaken) as taken:
        learners.migrate_item(second, "nunezj1")
    # Then it is UsernameTaken, naming the candidate, and the second is unchanged
    assert taken.value.username == "nunezj1"
    assert _raw("E1") == before
    assert {c.username: c.learnerId for c in UsernameItem.query("ag")} == {"nunezj1": "L-1"}
