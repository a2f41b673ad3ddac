"""intake.dal.learners' writes of a stored learner, read back from DynamoDB as it holds them: a reactivation, a
password reset, an edit and the version an item never updated has (what the mutation run found unchecked, issue 21:
a reactivation whose status, roster or hash was not written passed every test)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from intake.dal import learners
from intake.dal.tables import LearnerItem, bind_tables
from intake.domain import HistoryKind, Learner, LearnerEdit, LearnerStatus, history_entry, move_of
from intake.errors import Conflict, StorageUnavailable
from tests.unit.dal.test_learners import AT, LAKE_B, _learner, _stored
from tests.unit.test_learner_migration import _put_v1_item

LATER = AT + timedelta(hours=2)
CHANGED = "The learner was changed by someone else meanwhile; reload and try again"


def _inactive() -> Learner:
    learner = learners.insert_learner(_learner(), "old-hash")
    inactive = learners.set_status(learner, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, AT, "r"))
    assert inactive is not None
    return inactive


def test_a_reactivation_stores_the_learner_active_on_the_destinations_roster_with_its_new_hash(aws):
    # Given a learner deactivated at ridge
    inactive = _inactive()
    entries = [move_of(inactive, LAKE_B, AT, "lake"), history_entry(HistoryKind.REACTIVATED, LATER, "lake")]
    # When it is reactivated at lake's unit B by an upload
    back = learners.reactivate(inactive, LAKE_B, "new-hash", entries, upload_id="up-9")
    # Then DynamoDB holds it active at lake, on lake's active roster, with the new hash, stamped at the last entry
    raw = _stored("ag", "D100")
    assert raw is not None
    assert (raw["status"], raw["locationId"], raw["facilityId"]) == (
        {"S": "ACTIVE"},
        {"S": "unit-b"},
        {"S": "fac-lake"},
    )
    assert raw["passwordHash"] == {"S": "new-hash"} and raw["lastUploadId"] == {"S": "up-9"}
    assert back.updated_at == LATER and back.version == inactive.version + 1
    assert learners.get_by_doc_id("ag", "D100") == back
    active, _ = learners.list_roster("fac-lake", (LearnerStatus.ACTIVE,), None, 50, None)
    assert [learner.learner_id for learner in active] == ["L-1"]
    assert learners.list_roster("fac-ridge", (LearnerStatus.INACTIVE,), None, 50, None) == ([], None)
    assert [learner.learner_id for learner in learners.active_roster("fac-lake")] == ["L-1"]


def test_a_reactivation_refused_says_why_and_changes_nothing(aws):
    # Given a learner deactivated, then reactivated by someone else
    inactive = _inactive()
    entries = [history_entry(HistoryKind.REACTIVATED, LATER, "lake")]
    learners.reactivate(inactive, LAKE_B, "their-hash", entries)
    before = _stored("ag", "D100")
    # When it is reactivated again from the inactive learner read before, Then it is refused, and nothing changed
    with pytest.raises(Conflict) as raised:
        learners.reactivate(inactive, LAKE_B, "our-hash", entries)
    assert raised.value.message == (
        "The learner is not inactive any more, or was changed meanwhile; reload and try again"
    )
    assert _stored("ag", "D100") == before


def test_a_password_reset_is_stamped_and_counted_and_refused_for_another_learner_under_the_doc_id(aws):
    # Given a learner
    learner = learners.insert_learner(_learner(), "old-hash")
    entry = history_entry(HistoryKind.PASSWORD_RESET, LATER, "ridge")
    # When its password is reset
    reset = learners.set_password_hash(learner, "new-hash", entry)
    # Then the answer is the learner one version on, stamped at the reset, as stored
    assert (reset.version, reset.updated_at, reset.history[-1]) == (learner.version + 1, LATER, entry)
    assert learners.get_by_doc_id("ag", "D100") == reset
    # And a reset of another learner that once had the DOC ID is refused, the hash kept
    other = _learner(learner_id="L-other")
    with pytest.raises(Conflict) as raised:
        learners.set_password_hash(other, "their-hash", entry)
    assert raised.value.message == CHANGED
    assert learners.stored_password_hash("ag", "D100") == "new-hash"


def test_an_edit_of_first_name_date_of_birth_and_unit_is_stored_with_its_roster_and_keeps_the_status(aws):
    # Given an inactive learner at ridge
    inactive = _inactive()
    entry = history_entry(HistoryKind.EDITED, LATER, "ridge", fields=("firstName", "dateOfBirth", "locationId"))
    # When its first name, date of birth and unit (another facility's, as an admin's move-by-edit) change
    edited = learners.update_details(inactive, LearnerEdit(first_name="Eve", date_of_birth="01/01/1991"), entry, LAKE_B)
    # Then DynamoDB holds each change, the status kept, on the new facility's inactive roster, stamped at the edit
    raw = _stored("ag", "D100")
    assert raw is not None
    assert (raw["firstName"], raw["lastName"], raw["dateOfBirth"]) == (
        {"S": "Eve"},
        {"S": "Lovelace"},
        {"S": "01/01/1991"},
    )
    assert (raw["locationId"], raw["facilityId"], raw["status"]) == (
        {"S": "unit-b"},
        {"S": "fac-lake"},
        {"S": "INACTIVE"},
    )
    assert edited.updated_at == LATER and learners.get_by_doc_id("ag", "D100") == edited
    listed, _ = learners.list_roster("fac-lake", (LearnerStatus.INACTIVE,), None, 50, None)
    assert listed == [edited]


def test_an_edit_from_an_old_version_says_so_in_words(aws):
    # Given a learner edited once since it was read
    learner = learners.insert_learner(_learner(), "h")
    entry = history_entry(HistoryKind.EDITED, LATER, "ridge", fields=("lastName",))
    learners.update_details(learner, LearnerEdit(last_name="Byron"), entry, None)
    # When an edit is made from the first read, Then it is refused with the words staff see
    with pytest.raises(Conflict) as raised:
        learners.update_details(learner, LearnerEdit(last_name="Ames"), entry, None)
    assert raised.value.message == CHANGED


def test_a_syncs_first_name_update_rekeys_the_name_with_the_stored_last_name(aws):
    # Given a learner, as a sync planned it
    learner = learners.insert_learner(_learner(), "h")
    entry = history_entry(HistoryKind.EDITED, LATER, "sync", fields=("firstName",))
    # When only its first name is updated at its version
    assert learners.update_at_version(learner, LearnerEdit(first_name="Eve"), entry, None)
    # Then it is found by the new first name with its last name, and no longer by the old one
    found = learners.search_roster("fac-ridge", (LearnerStatus.ACTIVE,), "eve", None, 5)
    assert [(f.first_name, f.last_name) for f in found] == [("Eve", "Lovelace")]
    assert learners.search_roster("fac-ridge", (LearnerStatus.ACTIVE,), "ada", None, 5) == []


def test_an_item_never_versioned_is_at_version_one_and_at_no_other(aws):
    # Given a learner stored before versions were kept (no version attribute)
    learner = learners.insert_learner(_learner(), "h")
    LearnerItem._get_connection().update_item("ag", "D100", actions=[LearnerItem.version.remove()])
    assert "version" not in (_stored("ag", "D100") or {})
    entry = history_entry(HistoryKind.EDITED, LATER, "sync", fields=("lastName",))
    # When a sync updates it planned at version 2, Then it is refused: the item is at version 1
    assert not learners.update_at_version(
        learner.model_copy(update={"version": 2}), LearnerEdit(last_name="B"), entry, None
    )
    assert "version" not in (_stored("ag", "D100") or {})
    # And planned at version 1 it is applied, and the item is at version 2: a second writer that read it at version 1
    # is refused (ADD would have left it at 1, and let that writer through: a lost update)
    planned_at_1 = learner.model_copy(update={"version": 1})
    assert learners.update_at_version(planned_at_1, LearnerEdit(last_name="C"), entry, None)
    assert (_stored("ag", "D100") or {})["version"] == {"N": "2"}
    assert not learners.update_at_version(planned_at_1, LearnerEdit(last_name="D"), entry, None)
    assert (_stored("ag", "D100") or {})["lastName"] == {"S": "C"}


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (
            lambda learner: learners.update_details(
                learner, LearnerEdit(last_name="B"), history_entry(HistoryKind.EDITED, LATER, "x"), None
            ),
            "save the learner's details",
        ),
        (
            lambda learner: learners.update_at_version(
                learner, LearnerEdit(last_name="B"), history_entry(HistoryKind.EDITED, LATER, "x"), None
            ),
            "save the learner's details",
        ),
        (
            lambda learner: learners.reactivate(learner, LAKE_B, "h2", []),
            "reactivate the learner",
        ),
    ],
    ids=["update_details", "update_at_version", "reactivate"],
)
def test_each_write_refused_by_storage_names_what_could_not_be_done(aws, faults, refuse, call, what):
    # Given a stored learner, and DynamoDB throttling updates
    learner = learners.insert_learner(_learner(), "h1")
    before = _stored("ag", "D100")
    refuse("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException")
    # When the write is made, Then the domain error names it, and the learner is as it was
    with pytest.raises(StorageUnavailable) as raised:
        call(learner)
    assert raised.value.message == f"Could not {what} right now; try again in a moment"
    with faults.disarmed():
        assert _stored("ag", "D100") == before


def test_a_migration_refused_by_storage_says_what_could_not_be_done(aws, refuse):
    # Given an old item with its username, and one without; DynamoDB refusing updates and transactions
    _put_v1_item("D1", "L-1")
    _put_v1_item("E1", "L-2")
    bind_tables()
    LearnerItem._get_connection().update_item("ag", "D1", actions=[LearnerItem.username.set("nunezj1")])
    with_name, without = learners.get_by_doc_id("ag", "D1"), learners.get_by_doc_id("ag", "E1")
    assert with_name is not None and without is not None
    refuse("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException")
    refuse("dynamodb", "TransactWriteItems", "ProvisionedThroughputExceededException")
    # When each is migrated, Then each failure names the migration, and nothing changed
    for learner, candidate in ((with_name, "x1"), (without, "nunezj12")):
        with pytest.raises(StorageUnavailable) as failed:
            learners.migrate_item(learner, candidate)
        assert failed.value.message == "Could not migrate the learner right now; try again in a moment"
    assert "status" not in _stored("ag", "D1") and "username" not in _stored("ag", "E1")
