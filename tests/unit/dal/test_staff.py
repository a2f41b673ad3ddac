"""intake.dal.staff: staff records; creation and replacement are DynamoDB conditions (no lost update)."""

from __future__ import annotations

import boto3
import pytest

from intake.dal import staff
from intake.dal.tables import StaffItem
from intake.domain import Grant, Role, StaffMember
from intake.errors import Conflict, StorageUnavailable

FAULTED = ("StaffItem",)

RIDGE = StaffMember(username="ridge", role=Role.FACILITY_ADMIN, agency_id="ag", facility_ids=("fac-z", "fac-a"))


def _stored(username: str) -> dict | None:
    """The item as DynamoDB holds it, or None."""
    return StaffItem._get_connection().get_item(username, consistent_read=True).get("Item")


def test_a_staff_member_is_stored_and_read_back(aws):
    # Given a FacilityAdmin of two facilities
    # When it is inserted and read back
    returned = staff.insert_staff(RIDGE)
    read = staff.get_staff("ridge")
    # Then it is the same member, its facilities in order, stored as a set
    assert returned == RIDGE
    assert read == RIDGE.model_copy(update={"facility_ids": ("fac-a", "fac-z")})
    assert sorted(_stored("ridge")["facilityIds"]["SS"]) == ["fac-a", "fac-z"]


def test_a_member_without_facilities_or_agency_round_trips(aws):
    # Given a SystemAdmin (no agency, no facilities), inactive
    admin = StaffMember(username="sys", role=Role.SYSTEM_ADMIN, active=False)
    # When it is put and read back
    staff.put_staff(admin)
    # Then it comes back the same, with no empty set stored
    assert staff.get_staff("sys") == admin
    assert "facilityIds" not in _stored("sys")
    assert _stored("sys")["active"] == {"BOOL": False}


def test_the_record_scim_keeps_round_trips_and_a_record_without_one_stores_none(aws):
    # Given a staff member SCIM provisioned (the resource as sent, kept as JSON), and one made through the API
    scim_kept = RIDGE.model_copy(update={"scim_record": '{"resource":{"userName":"ridge"},"deleted":false}'})
    staff.put_staff(scim_kept)
    staff.put_staff(StaffMember(username="api-made", role=Role.EDUCATOR, agency_id="ag", facility_ids=("fac-a",)))
    # When both are read back, Then the SCIM record is exactly as written, and the other has none stored
    read = staff.get_staff("ridge")
    assert read is not None and read.scim_record == scim_kept.scim_record
    assert _stored("ridge")["scimRecord"] == {"S": scim_kept.scim_record}
    other = staff.get_staff("api-made")
    assert other is not None and other.scim_record is None and "scimRecord" not in _stored("api-made")


def test_inserting_a_taken_username_is_a_conflict_and_leaves_the_record_unchanged(aws):
    # Given ridge stored as a FacilityAdmin
    staff.insert_staff(RIDGE)
    before = _stored("ridge")
    # When ridge is inserted again as a SystemAdmin
    with pytest.raises(Conflict, match="ridge already exists"):
        staff.insert_staff(StaffMember(username="ridge", role=Role.SYSTEM_ADMIN))
    # Then the stored record is unchanged
    assert _stored("ridge") == before


def test_put_staff_replaces_unconditionally(aws):
    # Given ridge stored
    staff.put_staff(RIDGE)
    # When ridge is put again as an Educator
    educator = StaffMember(username="ridge", role=Role.EDUCATOR, agency_id="ag", facility_ids=("fac-a",))
    staff.put_staff(educator)
    # Then the record is the Educator
    assert staff.get_staff("ridge") == educator


def test_replace_staff_writes_a_record_still_as_read(aws):
    # Given ridge stored, and read
    staff.put_staff(RIDGE)
    before = staff.get_staff("ridge")
    after = before.model_copy(update={"active": False})
    # When the read record is replaced by a deactivated one
    returned = staff.replace_staff(before, after)
    # Then the change is stored, at the next version
    assert returned == after.model_copy(update={"version": 1})
    assert staff.get_staff("ridge") == returned
    assert _stored("ridge")["version"] == {"N": "1"}


@pytest.mark.parametrize(
    "meanwhile",
    [{"role": Role.EDUCATOR}, {"active": False}],
    ids=["role-changed", "deactivated"],
)
def test_replace_staff_of_a_record_changed_meanwhile_is_a_conflict_and_keeps_the_other_change(aws, meanwhile):
    # Given ridge read, then changed by someone else
    staff.put_staff(RIDGE)
    read = staff.get_staff("ridge")
    staff.put_staff(read.model_copy(update=meanwhile))
    before = _stored("ridge")
    # When the stale read is replaced
    with pytest.raises(Conflict, match="changed by someone else"):
        staff.replace_staff(read, read.model_copy(update={"facility_ids": ("fac-new",)}))
    # Then the other change stands, untouched
    assert _stored("ridge") == before


def test_replace_staff_of_a_removed_record_is_a_conflict_and_recreates_nothing(aws):
    # Given ridge read, then removed
    staff.put_staff(RIDGE)
    read = staff.get_staff("ridge")
    staff.delete_staff("ridge")
    # When the read record is replaced
    with pytest.raises(Conflict):
        staff.replace_staff(read, read.model_copy(update={"active": False}))
    # Then no record is made
    assert staff.get_staff("ridge") is None


def test_list_staff_is_every_record_by_username(aws):
    # Given three members stored out of order
    for name in ("zed", "amy", "max"):
        staff.put_staff(StaffMember(username=name, role=Role.EDUCATOR, agency_id="ag", facility_ids=("f",)))
    # When staff are listed
    # Then all three come back, by username
    assert [member.username for member in staff.list_staff()] == ["amy", "max", "zed"]


def test_delete_staff_removes_the_record_and_a_missing_one_is_none(aws):
    # Given ridge stored
    staff.put_staff(RIDGE)
    # When ridge is deleted (twice: the second is a no-op)
    staff.delete_staff("ridge")
    staff.delete_staff("ridge")
    # Then there is no record
    assert staff.get_staff("ridge") is None
    assert staff.list_staff() == []


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "AccessDeniedException"])
def test_a_failed_insert_is_storage_unavailable_and_stores_nothing(aws, refuse, code):
    # Given DynamoDB refusing puts to the staff table
    refuse("dynamodb", "PutItem", code, table="StaffTable")
    # When a member is inserted
    with pytest.raises(StorageUnavailable, match="Could not save the staff member"):
        staff.insert_staff(RIDGE)
    # Then nothing is stored
    assert _stored("ridge") is None


def test_a_failed_replace_is_storage_unavailable_and_changes_nothing(aws, refuse):
    # Given ridge stored, and DynamoDB throttling puts to the staff table
    staff.put_staff(RIDGE)
    before = _stored("ridge")
    refuse("dynamodb", "PutItem", "ProvisionedThroughputExceededException", table="StaffTable")
    # When the record is replaced
    read = staff.get_staff("ridge")
    with pytest.raises(StorageUnavailable):
        staff.replace_staff(read, read.model_copy(update={"active": False}))
    # Then it is unchanged
    assert _stored("ridge") == before


def test_failed_reads_are_storage_unavailable(aws, refuse):
    # Given DynamoDB denying reads and scans of the staff table
    refuse("dynamodb", "GetItem", "AccessDeniedException", table="StaffTable")
    refuse("dynamodb", "Scan", "AccessDeniedException", table="StaffTable")
    # When a member is read and staff are listed
    # Then each failure is the domain's
    with pytest.raises(StorageUnavailable, match="read the staff member"):
        staff.get_staff("ridge")
    with pytest.raises(StorageUnavailable, match="list staff"):
        staff.list_staff()


def test_a_stale_replace_says_to_reload(aws):
    # Given ridge read, then deactivated by someone else
    staff.put_staff(RIDGE)
    read = staff.get_staff("ridge")
    staff.put_staff(read.model_copy(update={"active": False}))
    # When the stale read is replaced
    with pytest.raises(Conflict) as raised:
        staff.replace_staff(read, read.model_copy(update={"role": Role.EDUCATOR}))
    # Then the message is the one the page shows
    assert raised.value.message == "The staff member was changed by someone else meanwhile; reload and try again"


INACTIVE = RIDGE.model_copy(update={"active": False})


@pytest.mark.parametrize(
    ("operation", "call", "what"),
    [
        ("PutItem", lambda: staff.put_staff(INACTIVE), "save the staff member"),
        ("PutItem", lambda: staff.replace_staff(RIDGE, INACTIVE), "save the staff member"),
        ("DeleteItem", lambda: staff.delete_staff("ridge"), "remove the staff member"),
        ("GetItem", lambda: staff.get_staff("ridge"), "read the staff member"),
        ("Scan", staff.list_staff, "list staff"),
    ],
    ids=["put", "replace", "delete", "get", "list"],
)
def test_each_failure_names_what_could_not_be_done_and_changes_nothing(aws, faults, refuse, operation, call, what):
    # Given ridge stored, and DynamoDB throttling one kind of call on the staff table
    staff.put_staff(RIDGE)
    before = _stored("ridge")
    refuse("dynamodb", operation, "ProvisionedThroughputExceededException", table="StaffTable")
    # When the call is made
    with pytest.raises(StorageUnavailable) as raised:
        call()
    # Then the domain error names it, and the record is as it was
    assert raised.value.message == f"Could not {what} right now; try again in a moment"
    with faults.disarmed():
        assert _stored("ridge") == before


def test_get_staff_reads_consistently(aws):
    # Given ridge stored, and the staff client's item reads recorded
    staff.put_staff(RIDGE)
    seen: list[object] = []

    def record(params, **_):
        seen.append(params.get("ConsistentRead"))

    events = StaffItem._get_connection().connection.client.meta.events
    events.register("provide-client-params.dynamodb.GetItem", record, unique_id="record-get")
    try:
        # When ridge is read
        staff.get_staff("ridge")
    finally:
        events.unregister("provide-client-params.dynamodb.GetItem", unique_id="record-get")
    # Then the read was consistent (a change just written decides access at once)
    assert seen == [True]


# ---------------------------------------------------------------- grants, the new fields, versions
MIXED = StaffMember(
    username="mia",
    title="Professor",
    first_name="Mia",
    last_name="Jones",
    display_first_name="Professor",
    display_last_name="Jones",
    email="mia@example.org",
    grants=(
        Grant(role=Role.EDUCATOR, agency_id="ag", facility_id="fac-b"),
        Grant(role=Role.FACILITY_ADMIN, agency_id="ag", facility_id="fac-a"),
    ),
)


def _put_raw(item: dict) -> None:
    """An item written as DynamoDB's own client writes it, bypassing the DAL (e.g. by code older than grants)."""
    boto3.client("dynamodb").put_item(TableName=StaffItem.Meta.table_name, Item=item)


def test_grants_and_the_new_fields_round_trip_and_the_v1_view_is_stored_too(aws):
    # Given a FacilityAdmin of fac-a who is an Educator at fac-b, with a title, names and an email
    # When she is inserted and read back
    staff.insert_staff(MIXED)
    read = staff.get_staff("mia")
    # Then she comes back whole: both grants, the fields, version 0
    assert read == MIXED
    assert (read.role, read.agency_id, read.facility_ids) == (Role.FACILITY_ADMIN, "ag", ("fac-a", "fac-b"))
    # And the item holds the grants and, for older readers, the v1 role, agency and facilities
    stored = _stored("mia")
    assert stored["grants"]["L"] == [
        {"M": {"role": {"S": "FacilityAdmin"}, "agencyId": {"S": "ag"}, "facilityId": {"S": "fac-a"}}},
        {"M": {"role": {"S": "Educator"}, "agencyId": {"S": "ag"}, "facilityId": {"S": "fac-b"}}},
    ]
    assert (stored["role"], stored["agencyId"]) == ({"S": "FacilityAdmin"}, {"S": "ag"})
    assert sorted(stored["facilityIds"]["SS"]) == ["fac-a", "fac-b"]
    assert (stored["displayFirstName"], stored["email"], stored["version"]) == (
        {"S": "Professor"},
        {"S": "mia@example.org"},
        {"N": "0"},
    )


@pytest.mark.parametrize(
    ("item", "grants"),
    [
        (
            {"role": {"S": "FacilityAdmin"}, "agencyId": {"S": "ag"}, "facilityIds": {"SS": ["fac-z", "fac-a"]}},
            (
                Grant(role=Role.FACILITY_ADMIN, agency_id="ag", facility_id="fac-a"),
                Grant(role=Role.FACILITY_ADMIN, agency_id="ag", facility_id="fac-z"),
            ),
        ),
        ({"role": {"S": "AgencyAdmin"}, "agencyId": {"S": "ag"}}, (Grant(role=Role.AGENCY_ADMIN, agency_id="ag"),)),
        ({"role": {"S": "SystemAdmin"}}, (Grant(role=Role.SYSTEM_ADMIN),)),
    ],
    ids=["facility-admin-of-two", "agency-admin", "system-admin"],
)
def test_an_item_written_before_grants_reads_as_the_grants_its_role_and_scope_give(aws, item, grants):
    # Given an item written the v1 way: a role and scope, no grants, no version, no names
    _put_raw({"username": {"S": "old"}, "active": {"BOOL": True}, **item})
    # When it is read
    read = staff.get_staff("old")
    # Then it has one grant per facility (one for an agency- or system-wide role), at version 0
    assert read.grants == grants
    assert read.version == 0 and read.title is None and read.email is None
    assert staff.list_staff() == [read]


def test_an_item_written_before_versions_is_replaced_as_version_0_and_upgrades_to_grants(aws):
    # Given a v1 Educator item (no grants, no version), read
    _put_raw(
        {
            "username": {"S": "old"},
            "role": {"S": "Educator"},
            "agencyId": {"S": "ag"},
            "facilityIds": {"SS": ["fac-a"]},
            "active": {"BOOL": True},
        }
    )
    read = staff.get_staff("old")
    # When she is given a second grant and replaced
    after = read.model_copy(
        update={"grants": (*read.grants, Grant(role=Role.EDUCATOR, agency_id="ag", facility_id="fac-b"))}
    )
    staff.replace_staff(read, after)
    # Then the item is at version 1 with both grants written
    stored = _stored("old")
    assert stored["version"] == {"N": "1"}
    assert [g["M"]["facilityId"]["S"] for g in stored["grants"]["L"]] == ["fac-a", "fac-b"]
    assert staff.get_staff("old").facility_ids == ("fac-a", "fac-b")


def test_two_writers_from_the_same_read_one_wins_the_other_is_a_conflict(aws):
    # Given mia stored, and read by two writers
    staff.insert_staff(MIXED)
    first, second = staff.get_staff("mia"), staff.get_staff("mia")
    # When the first adds a grant and the second, from the same read, changes her title (role and active unchanged)
    won = staff.replace_staff(
        first,
        first.model_copy(
            update={"grants": (*first.grants, Grant(role=Role.EDUCATOR, agency_id="ag", facility_id="fac-c"))}
        ),
    )
    winner = _stored("mia")
    with pytest.raises(Conflict, match="changed by someone else"):
        staff.replace_staff(second, second.model_copy(update={"title": "Dean"}))
    # Then the stored item is the winner's, at version 1
    assert _stored("mia") == winner
    assert staff.get_staff("mia") == won and won.version == 1 and won.title == "Professor"


def test_a_replace_from_an_older_version_is_a_conflict(aws):
    # Given mia replaced twice (version 2), and a read of her at version 1
    staff.insert_staff(MIXED)
    at_1 = staff.replace_staff(MIXED, MIXED.model_copy(update={"title": "Dr"}))
    staff.replace_staff(at_1, at_1.model_copy(update={"title": "Dean"}))
    before = _stored("mia")
    # When the version-1 read is replaced
    with pytest.raises(Conflict):
        staff.replace_staff(at_1, at_1.model_copy(update={"email": "x@example.org"}))
    # Then the version-2 item stands
    assert _stored("mia") == before and before["version"] == {"N": "2"}
