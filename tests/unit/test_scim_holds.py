"""intake.scim_holds: the record SCIM keeps on a staff record, and the deactivations the mass-deactivation guard
held, which only the agency's administrators list, release or discard (end states read from storage)."""

from __future__ import annotations

import pytest

from intake import scim_holds, scim_service
from intake.dal import staff as staff_store
from intake.errors import NotFound, PermissionDenied
from tests.conftest import AGENCY_A, AGENCY_B, FAC_A2
from tests.unit.test_scim_service import BASE, _actions, _disable, _scim_error


def test_a_staff_record_made_through_the_api_has_an_empty_scim_record(directory: dict) -> None:
    # Given a staff member of the seeded directory (never seen by SCIM)
    member = staff_store.get_staff("ridge")
    assert member is not None and not member.scim_record
    # Then its SCIM record is empty: no resource, never deleted, nothing held
    assert scim_holds.record_of(member) == scim_holds.ScimRecord(resource={}, created="", modified="")


def test_a_scim_record_round_trips_and_a_change_keeps_what_it_does_not_name(directory: dict) -> None:
    # Given a record with a resource, a hold and its times
    hold = {"at": "2026-12-03T10:00:00+00:00", "by": "client-north", "delete": True}
    record = scim_holds.ScimRecord(
        resource={"userName": "jones"}, created="2026-12-01T00:00:00+00:00", modified="m", hold=hold
    )
    member = staff_store.get_staff("ridge")
    assert member is not None
    # When it is stored as JSON on the staff record and read back, Then it is the same record
    stored = member.model_copy(update={"scim_record": record.to_json()})
    assert scim_holds.record_of(stored) == record
    # And a change of the hold keeps the resource, its creation and deleted, and stamps modified anew
    cleared = record.changed(hold=None)
    assert (cleared.resource, cleared.created, cleared.deleted, cleared.hold) == (
        {"userName": "jones"},
        record.created,
        False,
        None,
    )
    assert cleared.modified not in ("", "m")


def test_another_agencys_holds_are_no_such_agency(north: scim_service.ScimClient) -> None:
    # Given agency A's admin, When they ask for agency B's holds or an agency that does not exist, Then NotFound
    admin = staff_store.get_staff("north")
    assert admin is not None
    for agency_id in (AGENCY_B, "no-such-agency"):
        with pytest.raises(NotFound):
            scim_holds.list_holds(admin, agency_id)
        with pytest.raises(NotFound):
            scim_holds.settle_holds(admin, agency_id, None, release=True)


def test_an_agency_admin_releases_or_discards_held_deactivations(
    north: scim_service.ScimClient, many: list[str]
) -> None:
    _disable(north, many[0])
    _disable(north, many[1])
    _scim_error(_disable, north, many[2])
    _scim_error(scim_service.delete_user, north, many[3])
    admin = staff_store.get_staff("north")
    facility_admin = staff_store.get_staff("ridge")
    assert admin is not None and facility_admin is not None
    # Then the agency's admin sees both holds; a FacilityAdmin may not; another agency's admin sees no such agency
    holds = scim_holds.list_holds(admin, AGENCY_A)
    assert [(h.username, h.delete, h.client_id) for h in holds] == [
        (many[2], False, "client-north"),
        (many[3], True, "client-north"),
    ]
    with pytest.raises(PermissionDenied):
        scim_holds.list_holds(facility_admin, AGENCY_A)
    # When the admin discards one and releases the other
    assert scim_holds.settle_holds(admin, AGENCY_A, [many[2]], release=False) == [many[2]]
    assert scim_holds.settle_holds(admin, AGENCY_A, None, release=True) == [many[3]]
    # Then the discarded one is active with no hold; the released one disabled (login too) and gone from SCIM
    kept, released = staff_store.get_staff(many[2]), staff_store.get_staff(many[3])
    assert kept is not None and kept.active and scim_holds.record_of(kept).hold is None
    assert released is not None and not released.active and scim_holds.record_of(released).deleted
    assert _scim_error(scim_service.get_user, north, many[3], BASE).status == 404
    assert scim_holds.list_holds(admin, AGENCY_A) == []
    actions = _actions(FAC_A2)
    assert "SCIM_DEACTIVATION_DISCARDED" in actions and "STAFF_DISABLED" in actions
