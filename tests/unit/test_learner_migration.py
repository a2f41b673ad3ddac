"""intake.learner_migration: learner items of today's shape (no username, status or roster keys) read as ACTIVE, are
upgraded exactly once, and then appear in the roster indexes."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3

from intake import learner_migration
from intake.dal import learners
from intake.dal.tables import LearnerItem, UsernameItem, bind_tables
from intake.domain import LearnerStatus
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
