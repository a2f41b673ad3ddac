"""intake.dal.directory: agencies and locations. Creation, renames, updates and deletes are DynamoDB conditions; a
deleted location leaves a tombstone that keeps its id taken and is absent from every read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from intake.dal import directory, learners
from intake.dal.tables import AgencyItem, LocationItem
from intake.domain import (
    Agency,
    CharacterClass,
    HistoryKind,
    Learner,
    LearnerStatus,
    Location,
    LocationKind,
    PasswordRule,
    UploadMode,
    history_entry,
)
from intake.errors import Conflict, NotFound, StorageUnavailable

FAULTED = ("AgencyItem", "LocationItem", "LearnerItem")

FACILITY, UNIT = LocationKind.FACILITY, LocationKind.HOUSING_UNIT
RIDGE = Location(location_id="fac-ridge", name="Ridge", agency_id="ag", facility_id="fac-ridge", kind=FACILITY)
RIDGE_A = Location(location_id="unit-a", name="A", agency_id="ag", facility_id="fac-ridge", kind=UNIT)
RIDGE_B = Location(location_id="unit-b", name="B", agency_id="ag", facility_id="fac-ridge", kind=UNIT)
BAY = Location(location_id="fac-bay", name="Bay", agency_id="south", facility_id="fac-bay", kind=FACILITY)


def _raw_location(location_id: str) -> dict | None:
    """The item as DynamoDB holds it, or None."""
    return LocationItem._get_connection().get_item(location_id, consistent_read=True).get("Item")


def _raw_agency(agency_id: str) -> dict | None:
    return AgencyItem._get_connection().get_item(agency_id, consistent_read=True).get("Item")


def _seed() -> None:
    for location in (RIDGE, RIDGE_A, RIDGE_B, BAY):
        directory.put_location(location)


def _learner_at(location: Location, doc_id: str = "D1") -> None:
    learners.insert_learner(
        Learner(
            learner_id=f"L-{doc_id}",
            agency_id=location.agency_id,
            doc_id=doc_id,
            first_name="A",
            last_name="B",
            date_of_birth="01/01/1990",
            location_id=location.location_id,
            facility_id=location.facility_id,
            created_at=datetime(2026, 11, 30, tzinfo=UTC),
            created_by="ridge",
            username=f"ba{doc_id.lower()}",
        ),
        "h",
    )


# Agencies


def test_an_inserted_agency_is_read_back_and_listed_by_id(aws):
    # Given two agencies inserted out of order
    directory.insert_agency(Agency(agency_id="south", name="South"))
    returned = directory.insert_agency(Agency(agency_id="north", name="North"))
    # When they are read and listed
    # Then each is the domain object, the listing by id
    assert returned == Agency(agency_id="north", name="North")
    assert directory.get_agency("north") == returned
    assert [a.agency_id for a in directory.list_agencies()] == ["north", "south"]


def test_inserting_a_taken_agency_id_is_a_conflict_and_keeps_the_agency(aws):
    # Given agency north
    directory.insert_agency(Agency(agency_id="north", name="North"))
    # When north is inserted again under another name
    with pytest.raises(Conflict, match="north already exists"):
        directory.insert_agency(Agency(agency_id="north", name="Usurper"))
    # Then the stored agency keeps its name
    assert _raw_agency("north")["name"] == {"S": "North"}


def test_put_agency_replaces(aws):
    # Given agency north
    directory.put_agency(Agency(agency_id="north", name="North"))
    # When it is put again under another name
    directory.put_agency(Agency(agency_id="north", name="Northern"))
    # Then the new name is stored
    assert directory.get_agency("north").name == "Northern"


def test_a_missing_or_empty_agency_id_is_none(aws, faults):
    # Given no agency
    # When an unknown id and an empty id are read
    # Then both are None, and the empty id costs no request
    assert directory.get_agency("nowhere") is None
    calls = sum(faults.calls.values())
    assert directory.get_agency("") is None
    assert sum(faults.calls.values()) == calls


def test_rename_agency_renames_an_existing_agency(aws):
    # Given agency north
    directory.put_agency(Agency(agency_id="north", name="North"))
    # When it is renamed
    renamed = directory.rename_agency("north", "Northern")
    # Then the new name is returned and stored
    assert renamed == Agency(agency_id="north", name="Northern")
    assert _raw_agency("north")["name"] == {"S": "Northern"}


def test_renaming_a_missing_agency_is_not_found_and_creates_nothing(aws):
    # Given no agency ghost
    # When it is renamed
    with pytest.raises(NotFound):
        directory.rename_agency("ghost", "Ghost")
    # Then no agency was created by the update
    assert _raw_agency("ghost") is None


def test_a_failed_agency_insert_is_storage_unavailable_and_stores_nothing(aws, refuse):
    # Given DynamoDB throttling puts to the agencies table
    refuse("dynamodb", "PutItem", "ProvisionedThroughputExceededException", table="AgenciesTable")
    # When an agency is inserted
    with pytest.raises(StorageUnavailable, match="Could not save the agency"):
        directory.insert_agency(Agency(agency_id="north", name="North"))
    # Then none is stored
    assert _raw_agency("north") is None


def test_a_failed_rename_is_storage_unavailable_and_keeps_the_name(aws, refuse):
    # Given agency north, and DynamoDB denying updates of the agencies table
    directory.put_agency(Agency(agency_id="north", name="North"))
    refuse("dynamodb", "UpdateItem", "AccessDeniedException", table="AgenciesTable")
    # When it is renamed
    with pytest.raises(StorageUnavailable, match="Could not rename the agency"):
        directory.rename_agency("north", "Northern")
    # Then the name is unchanged
    assert _raw_agency("north")["name"] == {"S": "North"}


# Locations


def test_a_location_with_its_settings_round_trips(aws):
    # Given a facility with every setting
    rule = PasswordRule(min_length=12, required_classes=(CharacterClass.DIGIT,))
    location = RIDGE.model_copy(
        update={"auto_confirm_drops": True, "password_rule": rule, "max_upload_bytes": 1000, "max_upload_rows": 50}
    )
    # When it is inserted and read back
    directory.insert_location(location)
    # Then it is the same location, settings included
    assert directory.get_location("fac-ridge") == location
    assert directory.get_locations(["fac-ridge"]) == {"fac-ridge": location}


def test_inserting_a_taken_location_id_is_a_conflict_and_keeps_the_location(aws):
    # Given facility fac-ridge of agency ag
    directory.insert_location(RIDGE)
    before = _raw_location("fac-ridge")
    # When another agency inserts a location with the same id
    with pytest.raises(Conflict, match="already in use") as raised:
        directory.insert_location(BAY.model_copy(update={"location_id": "fac-ridge"}))
    # Then the refusal does not blame a deletion, and the stored location is unchanged
    assert "deleted" not in raised.value.message
    assert _raw_location("fac-ridge") == before


def test_update_location_sets_and_removes_fields(aws):
    # Given a facility with a password rule and an upload limit
    rule = PasswordRule(min_length=10)
    directory.put_location(RIDGE.model_copy(update={"password_rule": rule, "max_upload_rows": 9}))
    # When its name and a new rule are set and its row limit removed
    new_rule = PasswordRule(min_length=14, required_classes=(CharacterClass.UPPER,))
    updated = directory.update_location("fac-ridge", name="Ridge II", password_rule=new_rule, max_upload_rows=None)
    # Then the returned and the stored location have the changes, the limit gone, the rest untouched
    assert updated.name == "Ridge II"
    assert updated.password_rule == new_rule
    assert updated.max_upload_rows is None
    assert updated.agency_id == "ag"
    assert directory.get_location("fac-ridge") == updated
    assert "maxUploadRows" not in _raw_location("fac-ridge")


def test_updating_a_missing_location_is_not_found_and_creates_nothing(aws):
    # Given no location ghost
    # When it is updated
    with pytest.raises(NotFound):
        directory.update_location("ghost", name="Ghost")
    # Then no item was created
    assert _raw_location("ghost") is None


def test_deleting_a_location_leaves_a_tombstone_absent_from_every_read(aws):
    # Given ridge with two units, and bay
    _seed()
    # When unit A is deleted
    directory.delete_location(RIDGE_A)
    # Then it is absent from reads by id, batched reads and both listings, but its id is still held by a tombstone
    assert directory.get_location("unit-a") is None
    assert directory.get_locations(["unit-a", "unit-b"]) == {"unit-b": RIDGE_B}
    assert [loc.location_id for loc in directory.list_locations("ag")] == ["fac-ridge", "unit-b"]
    assert [loc.location_id for loc in directory.list_locations()] == ["fac-bay", "fac-ridge", "unit-b"]
    tombstone = _raw_location("unit-a")
    assert tombstone["kind"] == {"S": directory.TOMBSTONE_KIND}
    assert (tombstone["formerKind"], tombstone["formerFacilityId"]) == ({"S": "HOUSING_UNIT"}, {"S": "fac-ridge"})
    assert "agencyId" not in tombstone
    assert "name" not in tombstone


def test_a_deleted_id_cannot_be_inserted_again_and_says_why(aws):
    # Given unit A deleted
    _seed()
    directory.delete_location(RIDGE_A)
    before = _raw_location("unit-a")
    # When a location with its id is inserted, in another agency
    with pytest.raises(Conflict, match="used before by a location that has been deleted"):
        directory.insert_location(BAY.model_copy(update={"location_id": "unit-a"}))
    # Then the tombstone stays as it was
    assert _raw_location("unit-a") == before


def test_updating_a_deleted_location_is_not_found_and_keeps_the_tombstone(aws):
    # Given unit A deleted
    _seed()
    directory.delete_location(RIDGE_A)
    before = _raw_location("unit-a")
    # When it is renamed
    with pytest.raises(NotFound):
        directory.update_location("unit-a", name="Back")
    # Then the tombstone is untouched
    assert _raw_location("unit-a") == before


@pytest.mark.parametrize(
    "seen",
    [RIDGE_A.model_copy(update={"kind": FACILITY}), RIDGE_A.model_copy(update={"facility_id": "fac-lake"})],
    ids=["other-kind", "other-facility"],
)
def test_deleting_a_location_not_as_seen_is_a_conflict_and_keeps_it(aws, seen):
    # Given unit A of ridge
    _seed()
    before = _raw_location("unit-a")
    # When a copy of it that no longer matches (another kind, another facility) is deleted
    with pytest.raises(Conflict, match="changed meanwhile"):
        directory.delete_location(seen)
    # Then the location is still there, unchanged
    assert _raw_location("unit-a") == before
    assert directory.get_location("unit-a") == RIDGE_A


def test_deleting_a_location_that_does_not_exist_is_a_conflict_and_leaves_no_tombstone(aws):
    # Given no location unit-z
    # When a location seen as unit-z is deleted
    with pytest.raises(Conflict):
        directory.delete_location(RIDGE_A.model_copy(update={"location_id": "unit-z"}))
    # Then nothing was written
    assert _raw_location("unit-z") is None


def test_deleting_twice_is_a_conflict_the_second_time(aws):
    # Given unit A deleted
    _seed()
    directory.delete_location(RIDGE_A)
    before = _raw_location("unit-a")
    # When it is deleted again
    with pytest.raises(Conflict):
        directory.delete_location(RIDGE_A)
    # Then the first tombstone (its time) stands
    assert _raw_location("unit-a") == before


def test_lists_and_batched_reads(aws):
    # Given ridge with two units in agency ag, and bay in agency south
    _seed()
    # When listed per agency, for all agencies, and read in a batch with unknown and empty ids
    # Then each answer holds the right locations, by id
    assert [loc.location_id for loc in directory.list_locations("south")] == ["fac-bay"]
    assert [loc.location_id for loc in directory.list_locations("ag")] == ["fac-ridge", "unit-a", "unit-b"]
    assert len(directory.list_locations()) == 4
    assert directory.get_locations(["unit-b", "nowhere", "", "unit-b"]) == {"unit-b": RIDGE_B}
    assert directory.get_locations(["", ""]) == {}
    assert directory.get_location("") is None
    assert directory.get_location("nowhere") is None


def test_has_learners_of_a_facility_and_of_its_units(aws):
    # Given ridge with units A and B, and a learner in unit B only
    _seed()
    _learner_at(RIDGE_B)
    # When each is asked whether it holds learners
    # Then ridge and unit B do, unit A and bay do not
    assert directory.has_learners(RIDGE)
    assert directory.has_learners(RIDGE_B)
    assert not directory.has_learners(RIDGE_A)
    assert not directory.has_learners(BAY)


def test_an_inactive_learner_still_counts_as_a_learner_of_its_location(aws):
    # Given ridge's unit B, whose only learner is deactivated
    _seed()
    _learner_at(RIDGE_B)
    stored = learners.get_by_doc_id(RIDGE_B.agency_id, "D1")
    assert stored is not None
    at = datetime(2026, 12, 1, tzinfo=UTC)
    learners.set_status(stored, LearnerStatus.INACTIVE, history_entry(HistoryKind.DEACTIVATED, at, "ridge"))
    # When unit B and ridge are asked whether they hold learners
    # Then both do: a location with an inactive learner is not empty (deleting it would orphan the learner)
    assert directory.has_learners(RIDGE_B) and directory.has_learners(RIDGE)


def test_learner_access_is_on_unless_turned_off_and_back_on(aws):
    # Given ridge, stored without the setting
    _seed()
    assert directory.get_location("fac-ridge").learner_access is True
    # When learner access is turned off, then on again
    off = directory.update_location("fac-ridge", learner_access=False)
    on = directory.update_location("fac-ridge", learner_access=True)
    # Then it reads OFF in between, and ON is stored as no attribute (the default)
    assert off.learner_access is False and on.learner_access is True
    assert "learnerAccess" not in _raw_location("fac-ridge")


def test_a_failed_location_insert_is_storage_unavailable_and_stores_nothing(aws, refuse):
    # Given DynamoDB denying puts to the locations table
    refuse("dynamodb", "PutItem", "AccessDeniedException", table="LocationsTable")
    # When a location is inserted
    with pytest.raises(StorageUnavailable, match="Could not save the location"):
        directory.insert_location(RIDGE)
    # Then none is stored
    assert _raw_location("fac-ridge") is None


def test_a_failed_update_is_storage_unavailable_and_changes_nothing(aws, refuse):
    # Given ridge, and DynamoDB throttling updates of the locations table
    _seed()
    before = _raw_location("fac-ridge")
    refuse("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException", table="LocationsTable")
    # When it is updated
    with pytest.raises(StorageUnavailable, match="Could not update the location"):
        directory.update_location("fac-ridge", active=False)
    # Then it is unchanged
    assert _raw_location("fac-ridge") == before


def test_a_failed_delete_is_storage_unavailable_and_keeps_the_location(aws, faults, monkeypatch):
    # Given unit A, and DynamoDB throttling every put the tombstone model makes (it has a client of its own)
    from tests.integration.fault_injection import Rule

    _seed()
    before = _raw_location("unit-a")
    bind = directory._bind_tombstones

    def bind_and_hook() -> None:
        bind()
        faults.attach(directory._LocationTombstone._get_connection().connection.client)

    monkeypatch.setattr(directory, "_bind_tombstones", bind_and_hook)
    rule = faults.add(Rule("dynamodb", "PutItem", code="ProvisionedThroughputExceededException", status=400, times=100))
    # When unit A is deleted
    with pytest.raises(StorageUnavailable, match="Could not delete the location"):
        directory.delete_location(RIDGE_A)
    # Then the put was really refused, and the location is still there
    assert rule.fired > 0
    assert _raw_location("unit-a") == before


def test_failed_reads_are_storage_unavailable(aws, refuse):
    # Given DynamoDB denying every read of the directory
    for operation in ("GetItem", "BatchGetItem", "Query", "Scan"):
        refuse("dynamodb", operation, "AccessDeniedException")
    # When it is read in each way
    # Then each failure is the domain's, naming what was read
    with pytest.raises(StorageUnavailable, match="read the agency"):
        directory.get_agency("ag")
    with pytest.raises(StorageUnavailable, match="list agencies"):
        directory.list_agencies()
    with pytest.raises(StorageUnavailable, match="read the location"):
        directory.get_location("fac-ridge")
    with pytest.raises(StorageUnavailable, match="read locations"):
        directory.get_locations(["fac-ridge"])
    with pytest.raises(StorageUnavailable, match="list locations"):
        directory.list_locations("ag")
    with pytest.raises(StorageUnavailable, match="list locations"):
        directory.list_locations()
    with pytest.raises(StorageUnavailable, match="look for learners"):
        directory.has_learners(RIDGE)


# What the mutation run showed unchecked (issue 21)


def test_every_setting_that_differs_from_its_default_round_trips_and_the_defaults_store_nothing(aws):
    # Given an inactive facility with every setting away from its default, and a unit with every default
    rule = PasswordRule(min_length=12, blank_format="{lastName}{random:9}")
    away = RIDGE.model_copy(
        update={
            "active": False,
            "learner_access": False,
            "drop_mode": UploadMode.SYNC,
            "max_sync_deactivation_percent": 25,
            "password_rule": rule,
        }
    )
    # When both are stored and read back
    directory.put_location(away)
    directory.put_location(RIDGE_A)
    # Then each reads back as it was
    assert directory.get_location("fac-ridge") == away
    assert directory.get_location("unit-a") == RIDGE_A
    # And the facility's item holds each setting as DynamoDB sees it (the rule as compact JSON)
    raw = _raw_location("fac-ridge")
    assert (raw["active"], raw["learnerAccess"], raw["dropMode"]) == ({"BOOL": False}, {"BOOL": False}, {"S": "sync"})
    assert raw["maxSyncDeactivationPercent"] == {"N": "25"}
    assert raw["passwordRule"] == {"S": json.dumps(rule.to_json_dict(), separators=(",", ":"))}
    # And the defaults are no attribute at all (learner access ON, drops in create mode, the default percent)
    assert not {"learnerAccess", "dropMode", "maxSyncDeactivationPercent"} & set(_raw_location("unit-a"))


def test_each_setting_is_updated_under_its_own_attribute(aws):
    # Given ridge with every default
    _seed()
    # When each setting is set in turn
    directory.update_location("fac-ridge", auto_confirm_drops=True)
    directory.update_location("fac-ridge", max_upload_bytes=2048)
    directory.update_location("fac-ridge", max_upload_rows=70)
    directory.update_location("fac-ridge", max_sync_deactivation_percent=30)
    synced = directory.update_location("fac-ridge", drop_mode=UploadMode.SYNC)
    # Then each is stored and read back as set
    assert directory.get_location("fac-ridge") == RIDGE.model_copy(
        update={
            "auto_confirm_drops": True,
            "max_upload_bytes": 2048,
            "max_upload_rows": 70,
            "max_sync_deactivation_percent": 30,
            "drop_mode": UploadMode.SYNC,
        }
    )
    assert synced.drop_mode is UploadMode.SYNC and _raw_location("fac-ridge")["dropMode"] == {"S": "sync"}
    # And create mode, given by name or as the mode, is the default again: no attribute
    directory.update_location("fac-ridge", drop_mode="create")
    assert "dropMode" not in _raw_location("fac-ridge")
    directory.update_location("fac-ridge", drop_mode=UploadMode.SYNC)
    directory.update_location("fac-ridge", drop_mode=UploadMode.CREATE)
    assert "dropMode" not in _raw_location("fac-ridge")
    assert directory.get_location("fac-ridge").drop_mode is UploadMode.CREATE


def test_refusals_say_exactly_what_was_refused(aws):
    # Given unit A deleted, and no agency or location ghost
    _seed()
    directory.delete_location(RIDGE_A)
    # When each refused change is made, Then each says what happened and what to do, in the words staff see
    with pytest.raises(Conflict) as reused:
        directory.insert_location(BAY.model_copy(update={"location_id": "unit-a"}))
    assert reused.value.message == (
        "Location id unit-a was used before by a location that has been deleted: ids are never reused (its uploads "
        "and audit trail keep it), choose another id"
    )
    with pytest.raises(NotFound) as no_location:
        directory.update_location("ghost", name="Ghost")
    assert no_location.value.message == "No such location"
    with pytest.raises(NotFound) as no_agency:
        directory.rename_agency("ghost", "Ghost")
    assert no_agency.value.message == "No such agency"
    with pytest.raises(Conflict) as changed:
        directory.delete_location(RIDGE_B.model_copy(update={"facility_id": "fac-lake"}))
    assert changed.value.message == "The location changed meanwhile; reload it"


def _unavailable(what: str) -> str:
    return f"Could not {what} right now; try again in a moment"


def test_every_storage_failure_names_exactly_what_could_not_be_done(aws, refuse):
    # Given DynamoDB refusing every read and write of the directory
    _seed()
    for operation in ("GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem"):
        refuse("dynamodb", operation, "AccessDeniedException")
    agency = Agency(agency_id="north", name="North")
    # When each is tried, Then each failure's message names its own action, whole
    for call, what in (
        (lambda: directory.put_agency(agency), "save the agency"),
        (lambda: directory.insert_agency(agency), "save the agency"),
        (lambda: directory.get_agency("ag"), "read the agency"),
        (lambda: directory.rename_agency("ag", "A"), "rename the agency"),
        (lambda: directory.list_agencies(), "list agencies"),
        (lambda: directory.put_location(RIDGE), "save the location"),
        (lambda: directory.insert_location(RIDGE), "save the location"),
        (lambda: directory._was_deleted("unit-a"), "read the location"),
        (lambda: directory.update_location("fac-ridge", name="R"), "update the location"),
        (lambda: directory.get_location("fac-ridge"), "read the location"),
        (lambda: directory.get_locations(["fac-ridge"]), "read locations"),
        (lambda: directory.list_locations("ag"), "list locations"),
        (lambda: directory.list_locations(), "list locations"),
        (lambda: directory.has_learners(RIDGE), "look for learners"),
    ):
        with pytest.raises(StorageUnavailable) as raised:
            call()
        assert raised.value.message == _unavailable(what)
