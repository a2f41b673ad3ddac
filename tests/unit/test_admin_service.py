"""Administration: who may change agencies, locations, settings and staff, and what each change leaves in storage."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from pydantic import ValidationError as PydanticValidationError

from intake import admin_service, passwords
from intake.admin_models import (
    ChangeStaffRequest,
    CreateAgencyRequest,
    CreateFacilityRequest,
    CreateHousingUnitRequest,
    FacilitySettingsRequest,
    GrantChangeRequest,
    InviteStaffRequest,
)
from intake.dal import audit as audit_store
from intake.dal import directory as locations
from intake.dal import learners as learner_store
from intake.dal import staff as staff_store
from intake.domain import CharacterClass, Grant, Learner, LocationKind, PasswordRule, Role, StaffMember
from intake.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from intake.settings import get_settings
from tests.conftest import AGENCY_A, AGENCY_B, FAC_A1, FAC_A2, FAC_B1, UNIT_A1, UNIT_A1B, UNIT_A2
from tests.log_capture import cloudwatch_lines


def _actions(scope: str) -> list[str]:
    return [entry.action for entry in audit_store.list_entries(scope, 100)]


# ------------------------------------------------------------------ ids


def test_new_id_is_a_slug_of_the_name_with_a_random_suffix() -> None:
    made = admin_service.new_id("Cedar Creek Correctional — Ünit 3")
    assert re.fullmatch(r"cedar-creek-correctional-unit-3-[0-9a-f]{6}", made)
    assert admin_service.new_id("Cedar Creek") != admin_service.new_id("Cedar Creek")


def test_new_id_of_a_name_without_letters_or_too_long() -> None:
    assert re.fullmatch(r"loc-[0-9a-f]{6}", admin_service.new_id("—!!—"))
    stem = admin_service.new_id("a" * 39 + " bcdef").rsplit("-", 1)[0]
    assert len(stem) <= 40 and not stem.endswith("-")


# ------------------------------------------------------------------ agencies


def test_system_admin_creates_an_agency_stored_and_audited(directory: dict) -> None:
    # When the SystemAdmin creates an agency with a chosen id
    agency = admin_service.create_agency(directory["sys"], CreateAgencyRequest(agencyId="west", name="  Western DOC "))
    # Then it is stored with the trimmed name and filed under the agency's scope
    assert locations.get_agency("west") == agency
    assert agency.name == "Western DOC"
    assert _actions("agency:west") == ["AGENCY_CREATED"]


def test_creating_a_taken_agency_id_is_a_conflict_and_keeps_the_old(directory: dict) -> None:
    with pytest.raises(Conflict):
        admin_service.create_agency(directory["sys"], CreateAgencyRequest(agencyId=AGENCY_A, name="Other"))
    assert locations.get_agency(AGENCY_A).name == "Ag-North"
    assert _actions(f"agency:{AGENCY_A}") == []


@pytest.mark.parametrize("user", ["north", "ridge", "teacher"])
def test_only_a_system_admin_creates_agencies(directory: dict, user: str) -> None:
    with pytest.raises(PermissionDenied):
        admin_service.create_agency(directory[user], CreateAgencyRequest(agencyId="west", name="W"))
    assert locations.get_agency("west") is None


def test_agency_rename_is_system_admin_only_and_other_agencies_are_not_found(directory: dict) -> None:
    # Given an AgencyAdmin, When they rename their own agency, Then it is refused
    with pytest.raises(PermissionDenied):
        admin_service.rename_agency(directory["north"], AGENCY_A, "Mine")
    # And another agency answers as one that does not exist
    with pytest.raises(NotFound):
        admin_service.rename_agency(directory["north"], AGENCY_B, "Theirs")
    # When the SystemAdmin renames it, Then the store has the new name and the change is audited
    admin_service.rename_agency(directory["sys"], AGENCY_A, " Northern DOC ")
    assert locations.get_agency(AGENCY_A).name == "Northern DOC"
    assert locations.get_agency(AGENCY_B).name == "Ag-South"
    assert _actions(f"agency:{AGENCY_A}") == ["AGENCY_RENAMED"]


def test_renaming_an_unknown_agency_is_not_found(directory: dict) -> None:
    with pytest.raises(NotFound):
        admin_service.rename_agency(directory["sys"], "nowhere", "X")
    assert locations.get_agency("nowhere") is None


def test_list_agencies_by_role(directory: dict) -> None:
    assert [a.agency_id for a in admin_service.list_agencies(directory["sys"])] == [AGENCY_A, AGENCY_B]
    assert [a.agency_id for a in admin_service.list_agencies(directory["ridge"])] == [AGENCY_A]
    assert [a.agency_id for a in admin_service.list_agencies(directory["bay"])] == [AGENCY_B]


# ------------------------------------------------------------------ locations


def test_agency_admin_creates_a_facility_in_its_agency(directory: dict) -> None:
    facility = admin_service.create_facility(
        directory["north"], CreateFacilityRequest(agencyId=AGENCY_A, facilityId="fac-new", name="New")
    )
    stored = locations.get_location("fac-new")
    assert stored == facility
    assert (stored.kind, stored.facility_id, stored.agency_id, stored.active) == (
        LocationKind.FACILITY,
        "fac-new",
        AGENCY_A,
        True,
    )
    assert _actions("fac-new") == ["FACILITY_CREATED"]


@pytest.mark.parametrize(
    ("user", "agency_id", "error"),
    [
        ("north", AGENCY_B, NotFound),
        ("sys", "nowhere", NotFound),
        ("ridge", AGENCY_A, PermissionDenied),
        ("teacher", AGENCY_A, PermissionDenied),
    ],
)
def test_facilities_are_created_only_by_their_agencys_admins(
    directory: dict, user: str, agency_id: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        admin_service.create_facility(
            directory[user], CreateFacilityRequest(agencyId=agency_id, facilityId="fac-new", name="New")
        )
    assert locations.get_location("fac-new") is None


def test_a_taken_location_id_is_a_conflict(directory: dict) -> None:
    with pytest.raises(Conflict):
        admin_service.create_facility(
            directory["sys"], CreateFacilityRequest(agencyId=AGENCY_B, facilityId=UNIT_A1, name="Clash")
        )
    assert locations.get_location(UNIT_A1).agency_id == AGENCY_A


def test_facility_admin_adds_a_housing_unit_to_its_facility(directory: dict) -> None:
    unit = admin_service.create_housing_unit(
        directory["ridge"], FAC_A1, CreateHousingUnitRequest(locationId="unit-new", name=" C ")
    )
    stored = locations.get_location("unit-new")
    assert stored == unit
    assert (stored.kind, stored.facility_id, stored.agency_id, stored.name) == (
        LocationKind.HOUSING_UNIT,
        FAC_A1,
        AGENCY_A,
        "C",
    )
    assert _actions(FAC_A1) == ["HOUSING_UNIT_CREATED"]


@pytest.mark.parametrize(("user", "error"), [("teacher", PermissionDenied), ("lake", NotFound), ("bay", NotFound)])
def test_housing_units_are_added_only_by_the_facilitys_admins(
    directory: dict, user: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        admin_service.create_housing_unit(directory[user], FAC_A1, CreateHousingUnitRequest(locationId="u", name="U"))
    assert locations.get_location("u") is None


def test_a_deactivated_facility_takes_no_new_housing_unit(directory: dict) -> None:
    locations.update_location(FAC_A1, active=False)
    with pytest.raises(Conflict):
        admin_service.create_housing_unit(directory["sys"], FAC_A1, CreateHousingUnitRequest(locationId="u", name="U"))
    assert locations.get_location("u") is None


def test_facility_admins_rename_units_but_not_their_facility(directory: dict) -> None:
    # When the ridge admin renames a unit, Then it is renamed and audited under the facility
    admin_service.rename_location(directory["ridge"], UNIT_A1, "North wing")
    assert locations.get_location(UNIT_A1).name == "North wing"
    # And renaming the facility itself is for the agency's admins
    with pytest.raises(PermissionDenied):
        admin_service.rename_location(directory["ridge"], FAC_A1, "Mine")
    assert locations.get_location(FAC_A1).name == FAC_A1
    admin_service.rename_location(directory["north"], FAC_A1, "Ridge")
    assert locations.get_location(FAC_A1).name == "Ridge"
    assert _actions(FAC_A1) == ["LOCATION_RENAMED", "LOCATION_RENAMED"]


def test_locations_out_of_scope_are_not_found(directory: dict) -> None:
    with pytest.raises(NotFound):
        admin_service.rename_location(directory["lake"], UNIT_A1, "X")
    with pytest.raises(NotFound):
        admin_service.set_location_active(directory["bay"], FAC_A1, False)
    assert locations.get_location(UNIT_A1).name == UNIT_A1 and locations.get_location(FAC_A1).active


def test_deactivating_a_facility_closes_its_active_units_only(directory: dict) -> None:
    # Given one unit of the ridge facility already deactivated
    locations.update_location(UNIT_A1B, active=False)
    # When the agency admin deactivates the facility
    changed = admin_service.set_location_active(directory["north"], FAC_A1, False)
    # Then the facility and its other unit are inactive, the lake facility untouched, each change audited once
    assert changed.active is False
    assert [locations.get_location(i).active for i in (FAC_A1, UNIT_A1, UNIT_A1B, FAC_A2, UNIT_A2)] == [
        False,
        False,
        False,
        True,
        True,
    ]
    assert sorted(_actions(FAC_A1)) == ["LOCATION_DEACTIVATED", "LOCATION_DEACTIVATED"]
    # And reactivating the facility reopens only the facility
    admin_service.set_location_active(directory["north"], FAC_A1, True)
    assert locations.get_location(FAC_A1).active and not locations.get_location(UNIT_A1).active


def test_educators_change_no_location(directory: dict) -> None:
    with pytest.raises(PermissionDenied):
        admin_service.set_location_active(directory["teacher"], UNIT_A1, False)
    assert locations.get_location(UNIT_A1).active is True


def _learner_at(unit: str, facility: str) -> None:
    learner_store.insert_learner(
        Learner(
            learner_id="lrn-1",
            agency_id=AGENCY_A,
            doc_id="100201",
            username="hillm0201",
            first_name="Marcus",
            last_name="Hill",
            date_of_birth="03/14/1988",
            location_id=unit,
            facility_id=facility,
            created_at=datetime(2026, 3, 1, tzinfo=UTC),
            created_by="ridge",
        ),
        passwords.hash_password("Sunrise4242"),
    )


def test_a_location_with_learners_is_not_deleted(directory: dict) -> None:
    _learner_at(UNIT_A1, FAC_A1)
    with pytest.raises(Conflict, match="has learners"):
        admin_service.delete_location(directory["ridge"], UNIT_A1)
    assert locations.get_location(UNIT_A1) is not None


def test_a_facility_with_housing_units_is_not_deleted(directory: dict) -> None:
    with pytest.raises(Conflict, match="housing units"):
        admin_service.delete_location(directory["north"], FAC_A2)
    assert locations.get_location(FAC_A2) is not None


def test_an_empty_unit_is_deleted_and_its_id_never_reused(directory: dict) -> None:
    # Given a learner in another unit of the facility
    _learner_at(UNIT_A1, FAC_A1)
    # When the empty unit is deleted
    admin_service.delete_location(directory["ridge"], UNIT_A1B)
    # Then it is gone, audited, and its id cannot be taken again
    assert locations.get_location(UNIT_A1B) is None
    assert _actions(FAC_A1) == ["LOCATION_DELETED"]
    with pytest.raises(Conflict):
        admin_service.create_housing_unit(
            directory["ridge"], FAC_A1, CreateHousingUnitRequest(locationId=UNIT_A1B, name="B")
        )


def test_agency_locations_include_deactivated_ones_in_scope(directory: dict) -> None:
    locations.update_location(UNIT_A1B, active=False)
    listed = admin_service.list_agency_locations(directory["ridge"], AGENCY_A)
    assert [(f.facility_id, [(u.location_id, u.active) for u in f.housing_units]) for f in listed] == [
        (FAC_A1, [(UNIT_A1, True), (UNIT_A1B, False)])
    ]
    with pytest.raises(NotFound):
        admin_service.list_agency_locations(directory["ridge"], AGENCY_B)


# ------------------------------------------------------------------ facility settings


def test_settings_change_only_what_was_sent(directory: dict) -> None:
    # Given a facility with limits of its own
    locations.update_location(FAC_A1, max_upload_rows=100, auto_confirm_drops=True)
    # When its admin sends only a password rule
    view = admin_service.update_facility_settings(
        directory["ridge"],
        FAC_A1,
        FacilitySettingsRequest.model_validate(
            {"passwordRule": {"minLength": 10, "requiredClasses": ["digit", "digit"]}}
        ),
    )
    # Then the rule is stored (classes once), the other settings are kept, and the fields sent are audited
    stored = locations.get_location(FAC_A1)
    assert stored.password_rule == PasswordRule(min_length=10, required_classes=(CharacterClass.DIGIT,))
    assert (stored.max_upload_rows, stored.auto_confirm_drops) == (100, True)
    assert view.max_upload_rows == 100 and view.password_rule == {
        "minLength": 10,
        "requiredClasses": ["digit"],
        "blankFormat": None,
    }
    [entry] = audit_store.list_entries(FAC_A1, 10)
    assert (entry.action, entry.details) == ("FACILITY_SETTINGS_CHANGED", {"fields": "passwordRule"})


def test_null_resets_a_setting_to_the_systems(directory: dict) -> None:
    locations.update_location(FAC_A1, max_upload_rows=100)
    view = admin_service.update_facility_settings(
        directory["north"], FAC_A1, FacilitySettingsRequest.model_validate({"maxUploadRows": None})
    )
    assert locations.get_location(FAC_A1).max_upload_rows is None
    assert view.max_upload_rows == get_settings().max_upload_rows == view.system_max_upload_rows


def test_limits_above_the_systems_are_refused_and_nothing_changes(directory: dict) -> None:
    system = get_settings()
    with pytest.raises(ValidationFailed) as refused:
        admin_service.update_facility_settings(
            directory["ridge"],
            FAC_A1,
            FacilitySettingsRequest(
                autoConfirmDrops=True,
                maxUploadBytes=system.max_upload_bytes + 1,
                maxUploadRows=system.max_upload_rows + 1,
            ),
        )
    assert [e.field for e in refused.value.errors] == ["maxUploadBytes", "maxUploadRows"]
    stored = locations.get_location(FAC_A1)
    assert (stored.auto_confirm_drops, stored.max_upload_bytes, stored.max_upload_rows) == (False, None, None)
    assert _actions(FAC_A1) == []


def test_a_guessable_blank_format_is_refused(directory: dict) -> None:
    with pytest.raises(ValidationFailed) as refused:
        admin_service.update_facility_settings(
            directory["ridge"],
            FAC_A1,
            FacilitySettingsRequest.model_validate({"passwordRule": {"blankFormat": "{lastName}{docIdLast4}"}}),
        )
    assert refused.value.errors[0].field == "passwordRule.blankFormat"
    assert locations.get_location(FAC_A1).password_rule is None


def test_an_empty_request_changes_and_audits_nothing(directory: dict) -> None:
    view = admin_service.update_facility_settings(directory["ridge"], FAC_A1, FacilitySettingsRequest())
    assert view.facility_id == FAC_A1
    assert _actions(FAC_A1) == []


@pytest.mark.parametrize(("user", "error"), [("teacher", PermissionDenied), ("lake", NotFound)])
def test_settings_are_changed_only_by_the_facilitys_admins(directory: dict, user: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        admin_service.update_facility_settings(directory[user], FAC_A1, FacilitySettingsRequest(autoConfirmDrops=True))
    assert locations.get_location(FAC_A1).auto_confirm_drops is False


def test_educators_may_read_their_facilitys_settings(directory: dict) -> None:
    view = admin_service.get_facility_settings(directory["teacher"], FAC_A1)
    assert (view.facility_id, view.auto_confirm_drops, view.password_rule) == (FAC_A1, False, None)


def test_learner_access_is_on_by_default_turned_off_and_reset_by_null(directory: dict) -> None:
    # Given a facility never configured, Then learner access reads ON (camelCase learnerAccess on the wire)
    view = admin_service.get_facility_settings(directory["ridge"], FAC_A1)
    assert view.learner_access == "ON" and view.to_json_dict()["learnerAccess"] == "ON"
    # When its admin turns it OFF, Then it is stored, read back OFF, and the change audited by field name
    off = admin_service.update_facility_settings(
        directory["ridge"], FAC_A1, FacilitySettingsRequest.model_validate({"learnerAccess": "OFF"})
    )
    assert off.learner_access == "OFF" and locations.get_location(FAC_A1).learner_access is False
    assert admin_service.get_facility_settings(directory["teacher"], FAC_A1).learner_access == "OFF"
    assert _actions(FAC_A1) == ["FACILITY_SETTINGS_CHANGED"]
    # And the other settings were left alone; null turns it back ON
    assert locations.get_location(FAC_A1).auto_confirm_drops is False
    on = admin_service.update_facility_settings(
        directory["north"], FAC_A1, FacilitySettingsRequest.model_validate({"learnerAccess": None})
    )
    assert on.learner_access == "ON" and locations.get_location(FAC_A1).learner_access is True


@pytest.mark.parametrize("value", ["on", "YES", True])
def test_learner_access_takes_only_on_or_off(value: object) -> None:
    with pytest.raises(PydanticValidationError):
        FacilitySettingsRequest.model_validate({"learnerAccess": value})


@pytest.mark.parametrize(("user", "error"), [("teacher", PermissionDenied), ("lake", NotFound)])
def test_learner_access_is_changed_only_by_the_facilitys_admins(
    directory: dict, user: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        admin_service.update_facility_settings(directory[user], FAC_A1, FacilitySettingsRequest(learnerAccess="OFF"))
    assert locations.get_location(FAC_A1).learner_access is True


# ------------------------------------------------------------------ staff


def test_temporary_password_meets_the_pool_policy() -> None:
    for _ in range(20):
        made = admin_service.temporary_password()
        assert len(made) >= 12
        assert re.search(r"[A-Z]", made) and re.search(r"[a-z]", made)
        assert re.search(r"[0-9]", made) and re.search(r"[^A-Za-z0-9]", made)


def _invite(requestor: StaffMember, **fields: Any) -> admin_service.InvitedStaff:
    return admin_service.invite_staff(requestor, InviteStaffRequest.model_validate({"username": "mia", **fields}))


def test_invite_creates_the_record_and_a_login_and_audits_no_password(directory: dict, user_pool: str) -> None:
    # When the agency admin invites an Educator of two facilities
    with cloudwatch_lines() as logged:
        invited = _invite(directory["north"], role="Educator", agencyId=AGENCY_A, facilityIds=[FAC_A2, FAC_A1, FAC_A2])
    # Then the record holds the grant (facilities once, sorted by id) and the login must change its password
    assert staff_store.get_staff("mia") == StaffMember(
        username="mia", role=Role.EDUCATOR, agency_id=AGENCY_A, facility_ids=(FAC_A2, FAC_A1)
    )
    user = boto3.client("cognito-idp", region_name="us-east-1").admin_get_user(UserPoolId=user_pool, Username="mia")
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    # And both facilities' trails have the invite, by ids, without the temporary password
    for facility in (FAC_A1, FAC_A2):
        [entry] = audit_store.list_entries(facility, 10)
        assert (entry.action, entry.target_id) == ("STAFF_INVITED", "mia")
        assert entry.details == {"role": "Educator", "facilityIds": "fac-lake,fac-ridge", "active": True}
        assert invited.temporary_password not in entry.model_dump_json()
    # And the log says who was invited, not with what password
    assert "staff invited" in logged.messages()
    assert not logged.mentions(invited.temporary_password)


def test_invites_without_facilities_are_filed_under_the_agency_or_the_system(directory: dict, user_pool: str) -> None:
    # When the SystemAdmin invites an AgencyAdmin and another SystemAdmin
    _invite(directory["sys"], role="AgencyAdmin", agencyId=AGENCY_B)
    admin_service.invite_staff(directory["sys"], InviteStaffRequest(username="sys-2", role=Role.SYSTEM_ADMIN))
    # Then the first is in the agency's trail, the second in the system's
    assert _actions(f"agency:{AGENCY_B}") == ["STAFF_INVITED"]
    assert [(e.action, e.target_id) for e in audit_store.list_entries("system", 10)] == [("STAFF_INVITED", "sys-2")]


@pytest.mark.parametrize(
    ("user", "fields"),
    [
        ("ridge", {"role": "AgencyAdmin", "agencyId": AGENCY_A}),
        ("ridge", {"role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_A2]}),
        ("north", {"role": "FacilityAdmin", "agencyId": AGENCY_B, "facilityIds": [FAC_B1]}),
        ("north", {"role": "SystemAdmin"}),
        ("teacher", {"role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_A1]}),
    ],
)
def test_no_one_invites_beyond_their_own_grant(directory: dict, user_pool: str, user: str, fields: dict) -> None:
    with pytest.raises(PermissionDenied, match="no one can grant more than they have"):
        _invite(directory[user], **fields)
    assert staff_store.get_staff("mia") is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"role": "SystemAdmin", "agencyId": AGENCY_A}, "agencyId"),
        ({"role": "Educator", "facilityIds": [FAC_A1]}, "agencyId"),
        ({"role": "AgencyAdmin", "agencyId": AGENCY_A, "facilityIds": [FAC_A1]}, "facilityIds"),
        ({"role": "FacilityAdmin", "agencyId": AGENCY_A}, "facilityIds"),
        ({"role": "Educator", "agencyId": AGENCY_A, "facilityIds": [FAC_B1]}, "facilityIds"),
        ({"role": "Educator", "agencyId": AGENCY_A, "facilityIds": [UNIT_A1]}, "facilityIds"),
        ({"role": "AgencyAdmin", "agencyId": "nowhere"}, "agencyId"),
    ],
)
def test_malformed_grants_are_refused_by_field(directory: dict, user_pool: str, fields: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _invite(directory["sys"], **fields)
    assert refused.value.errors[0].field == field
    assert staff_store.get_staff("mia") is None


def test_an_invite_whose_login_is_taken_leaves_no_record(directory: dict, user_pool: str) -> None:
    # Given a login named mia already in the pool, without a staff record
    boto3.client("cognito-idp", region_name="us-east-1").admin_create_user(
        UserPoolId=user_pool, Username="mia", MessageAction="SUPPRESS"
    )
    # When mia is invited, Then it is a conflict and no half-invited record stays
    with pytest.raises(Conflict):
        _invite(directory["north"], role="Educator", agencyId=AGENCY_A, facilityIds=[FAC_A1])
    assert staff_store.get_staff("mia") is None
    assert _actions(FAC_A1) == []


def test_inviting_an_existing_staff_member_is_a_conflict_that_keeps_them(directory: dict, user_pool: str) -> None:
    with pytest.raises(Conflict):
        admin_service.invite_staff(
            directory["north"],
            InviteStaffRequest(username="ridge", role=Role.EDUCATOR, agencyId=AGENCY_A, facilityIds=[FAC_A1]),
        )
    assert staff_store.get_staff("ridge") == directory["ridge"]


def test_change_staff_within_the_grant_keeps_active_and_audits_before_and_after(directory: dict) -> None:
    # Given a disabled Educator of ridge
    staff_store.put_staff(directory["teacher"].model_copy(update={"active": False}))
    # When the agency admin makes them a FacilityAdmin of lake
    changed = admin_service.change_staff(
        directory["north"],
        "teacher",
        ChangeStaffRequest(role=Role.FACILITY_ADMIN, agencyId=AGENCY_A, facilityIds=[FAC_A2]),
    )
    # Then the record changed, still disabled, and both facilities' trails hold the change with the previous grant
    assert (
        staff_store.get_staff("teacher")
        == changed
        == StaffMember(
            username="teacher",
            role=Role.FACILITY_ADMIN,
            agency_id=AGENCY_A,
            facility_ids=(FAC_A2,),
            active=False,
            version=1,
        )
    )
    for facility in (FAC_A1, FAC_A2):
        [entry] = audit_store.list_entries(facility, 10)
        assert entry.action == "STAFF_CHANGED"
        assert entry.details["previousRole"] == "Educator" and entry.details["previousFacilityIds"] == FAC_A1


@pytest.mark.parametrize(
    ("user", "target", "error"),
    [
        ("north", "north", PermissionDenied),  # oneself
        ("ridge", "lake", NotFound),  # another facility's admin is out of scope
        ("ridge", "north", NotFound),  # above oneself
        ("bay", "teacher", NotFound),  # another agency
        ("north", "nobody", NotFound),
        ("teacher", "teacher", PermissionDenied),
    ],
)
def test_who_may_not_change_whom(directory: dict, user: str, target: str, error: type[Exception]) -> None:
    before = staff_store.get_staff(target)
    with pytest.raises(error):
        admin_service.change_staff(
            directory[user], target, ChangeStaffRequest(role=Role.EDUCATOR, agencyId=AGENCY_A, facilityIds=[FAC_A1])
        )
    assert staff_store.get_staff(target) == before


def test_peers_do_not_change_each_other(directory: dict) -> None:
    # Given a second FacilityAdmin of ridge
    peer = StaffMember(username="peer", role=Role.FACILITY_ADMIN, agency_id=AGENCY_A, facility_ids=(FAC_A1,))
    staff_store.put_staff(peer)
    # When the ridge admin tries to demote them, Then it is refused and the record is kept
    with pytest.raises(PermissionDenied):
        admin_service.change_staff(
            directory["ridge"], "peer", ChangeStaffRequest(role=Role.EDUCATOR, agencyId=AGENCY_A, facilityIds=[FAC_A1])
        )
    assert staff_store.get_staff("peer") == peer


def test_a_change_over_a_concurrent_change_is_a_conflict(directory: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the teacher read as an active Educator, but disabled meanwhile by someone else
    read = staff_store.get_staff("teacher")
    staff_store.put_staff(read.model_copy(update={"active": False}))
    monkeypatch.setattr(staff_store, "get_staff", lambda username: read)
    # When the change is written, Then it does not overwrite the other change
    with pytest.raises(Conflict):
        admin_service.change_staff(
            directory["north"],
            "teacher",
            ChangeStaffRequest(role=Role.EDUCATOR, agencyId=AGENCY_A, facilityIds=[FAC_A2]),
        )
    monkeypatch.undo()
    assert staff_store.get_staff("teacher") == read.model_copy(update={"active": False})


def test_disable_and_enable_change_the_record_and_the_login(directory: dict, user_pool: str) -> None:
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    cognito.admin_create_user(UserPoolId=user_pool, Username="teacher", MessageAction="SUPPRESS")
    # When the ridge admin disables the teacher
    admin_service.set_staff_active(directory["ridge"], "teacher", False)
    # Then the record and the login are disabled, and audited
    assert staff_store.get_staff("teacher").active is False
    assert cognito.admin_get_user(UserPoolId=user_pool, Username="teacher")["Enabled"] is False
    # And enabling restores both
    admin_service.set_staff_active(directory["ridge"], "teacher", True)
    assert staff_store.get_staff("teacher").active is True
    assert cognito.admin_get_user(UserPoolId=user_pool, Username="teacher")["Enabled"] is True
    assert _actions(FAC_A1) == ["STAFF_ENABLED", "STAFF_DISABLED"]


def test_no_one_disables_themself(directory: dict, user_pool: str) -> None:
    with pytest.raises(PermissionDenied):
        admin_service.set_staff_active(directory["sys"], "sys", False)
    assert staff_store.get_staff("sys").active is True


def test_list_staff_shows_whom_one_could_grant_and_oneself(directory: dict) -> None:
    assert {m.username for m in admin_service.list_staff(directory["ridge"])} == {"ridge", "teacher"}
    assert {m.username for m in admin_service.list_staff(directory["north"])} == {"north", "ridge", "lake", "teacher"}
    assert {m.username for m in admin_service.list_staff(directory["sys"])} == set(directory)
    with pytest.raises(PermissionDenied):
        admin_service.list_staff(directory["teacher"])


def test_list_staff_searches_usernames_names_and_emails_within_what_one_may_list(
    directory: dict, user_pool: str
) -> None:
    # Given an Educator at the ridge facility with a title, names, display names and an email
    _invite(
        directory["north"],
        role="Educator",
        agencyId=AGENCY_A,
        facilityIds=[FAC_A1],
        username="pjones",
        firstName="Paula",
        lastName="Núñez",
        displayFirstName="Professor",
        displayLastName="Jones",
        email="paula@ridge.example",
    )
    # When the staff are searched by a name without its accents, a display name, the email's domain, the username
    by_name = admin_service.list_staff(directory["north"], "nunez")
    by_display = admin_service.list_staff(directory["north"], "professor jones")
    by_email = admin_service.list_staff(directory["north"], "RIDGE.EXAMPLE")
    by_username = admin_service.list_staff(directory["north"], "lak")
    # Then each finds who it names, and only them
    assert [m.username for m in by_name] == ["pjones"]
    assert [m.username for m in by_display] == ["pjones"]
    assert [m.username for m in by_email] == ["pjones"]
    assert [m.username for m in by_username] == ["lake"]
    # And a search never reaches beyond what the requestor may list (another agency's admin finds no one here)
    assert admin_service.list_staff(directory["bay"], "pjones") == []
    assert admin_service.list_staff(directory["north"], "no-such-person") == []
    # And no search (or a blank one) lists everyone as before
    assert admin_service.list_staff(directory["north"], "  ") == admin_service.list_staff(directory["north"])


# ------------------------------------------------------------------ staff records and grants per facility (issue 19)


def _grant_request(role: str, facility: str | None = None) -> GrantChangeRequest:
    return GrantChangeRequest.model_validate({"role": role, "facilityId": facility})


def _grant_actions() -> list[tuple[str, str | None]]:
    """Every grant change in the trails of agency A's facilities and of the agency."""
    return [
        (entry.action, entry.details.get("facilityId"))
        for scope in (FAC_A1, FAC_A2, f"agency:{AGENCY_A}")
        for entry in audit_store.list_entries(scope, 100)
        if entry.action.startswith("STAFF_GRANT")
    ]


def test_invite_stores_the_title_names_and_email(directory: dict, user_pool: str) -> None:
    # When the agency admin invites an Educator with a title, names, display names and an email
    invited = _invite(
        directory["north"],
        role="Educator",
        agencyId=AGENCY_A,
        facilityIds=[FAC_A1],
        title=" Professor ",
        firstName="Mia",
        lastName="Jones",
        displayFirstName="Professor",
        displayLastName="Jones",
        email="mia@example.org",
    )
    # Then the stored record holds them (trimmed) with the grant, and so does the answer
    stored = staff_store.get_staff("mia")
    assert stored == invited.staff
    assert (stored.title, stored.first_name, stored.last_name) == ("Professor", "Mia", "Jones")
    assert (stored.display_first_name, stored.display_last_name, stored.email) == (
        "Professor",
        "Jones",
        "mia@example.org",
    )
    assert stored.grants == (Grant(role=Role.EDUCATOR, agency_id=AGENCY_A, facility_id=FAC_A1),)


@pytest.mark.parametrize("field", ["title", "firstName", "lastName", "displayFirstName", "displayLastName"])
def test_invite_fields_are_bounded(field: str) -> None:
    # Given a field of 121 characters, or empty, Then the request is refused before anything is done
    for value in ("x" * 121, ""):
        with pytest.raises(PydanticValidationError):
            InviteStaffRequest.model_validate({"username": "mia", "role": "Educator", field: value})
    assert InviteStaffRequest.model_validate({"username": "mia", "role": "Educator", field: "x" * 120})


def test_a_grant_is_added_at_another_facility_then_removed_each_change_audited(directory: dict) -> None:
    # Given ridge, a FacilityAdmin of ridge facility
    # When the agency admin makes them an Educator at lake too
    added = admin_service.add_grant(directory["north"], "ridge", _grant_request("Educator", FAC_A2))
    # Then the record holds both grants, at the next version, and the v1 view names both facilities
    assert staff_store.get_staff("ridge") == added
    assert added.grants == (
        Grant(role=Role.FACILITY_ADMIN, agency_id=AGENCY_A, facility_id=FAC_A1),
        Grant(role=Role.EDUCATOR, agency_id=AGENCY_A, facility_id=FAC_A2),
    )
    assert (added.role, added.facility_ids, added.version) == (Role.FACILITY_ADMIN, (FAC_A2, FAC_A1), 1)
    # And the change is in lake's trail with its role and facility
    [entry] = audit_store.list_entries(FAC_A2, 10)
    assert (entry.action, entry.actor, entry.target_id) == ("STAFF_GRANT_ADDED", "north", "ridge")
    assert entry.details == {"role": "Educator", "facilityId": FAC_A2, "version": 1}
    # When the agency admin removes it again
    removed = admin_service.remove_grant(directory["north"], "ridge", _grant_request("Educator", FAC_A2))
    # Then ridge is as before but at version 2, and the removal is audited too
    assert staff_store.get_staff("ridge") == removed == directory["ridge"].model_copy(update={"version": 2})
    assert _grant_actions() == [("STAFF_GRANT_REMOVED", FAC_A2), ("STAFF_GRANT_ADDED", FAC_A2)]


def test_an_agency_admin_grant_is_filed_under_the_agency(directory: dict) -> None:
    # When the SystemAdmin makes ridge an AgencyAdmin of their agency as well
    added = admin_service.add_grant(directory["sys"], "ridge", _grant_request("AgencyAdmin"))
    # Then ridge is an AgencyAdmin (the highest grant) and the change is in the agency's trail
    assert added.role is Role.AGENCY_ADMIN and staff_store.get_staff("ridge") == added
    [entry] = audit_store.list_entries(f"agency:{AGENCY_A}", 10)
    assert (entry.action, entry.target_id) == ("STAFF_GRANT_ADDED", "ridge")
    assert entry.details == {"role": "AgencyAdmin", "facilityId": "", "version": 1}


def test_a_facility_admin_grants_an_educator_a_second_role_within_their_own_facilities(directory: dict) -> None:
    # Given ridge, a FacilityAdmin of ridge facility, and an Educator of lake and ridge facility
    staff_store.put_staff(
        StaffMember(username="both", role=Role.EDUCATOR, agency_id=AGENCY_A, facility_ids=(FAC_A1, FAC_A2))
    )
    admin_service.add_grant(directory["north"], "ridge", _grant_request("FacilityAdmin", FAC_A2))
    ridge = staff_store.get_staff("ridge")
    # When ridge (now FacilityAdmin of both) makes the Educator FacilityAdmin of lake
    changed = admin_service.add_grant(ridge, "both", _grant_request("FacilityAdmin", FAC_A2))
    # Then the Educator is FacilityAdmin at lake, still Educator at ridge facility
    assert (
        {(g.role, g.facility_id) for g in staff_store.get_staff("both").grants}
        == {
            (Role.FACILITY_ADMIN, FAC_A2),
            (Role.EDUCATOR, FAC_A1),
            (Role.EDUCATOR, FAC_A2),
        }
        == {(g.role, g.facility_id) for g in changed.grants}
    )


@pytest.mark.parametrize(
    ("user", "target", "change", "body", "error", "message"),
    [
        ("north", "ridge", "add", ("FacilityAdmin", FAC_A1), Conflict, "already holds FacilityAdmin at fac-ridge"),
        ("north", "ridge", "remove", ("Educator", FAC_A2), NotFound, "does not hold Educator at fac-lake"),
        ("north", "ridge", "remove", ("FacilityAdmin", FAC_A1), Conflict, "disable the staff member instead"),
        ("north", "north", "add", ("Educator", FAC_A1), PermissionDenied, "No one may change their own"),
        ("ridge", "ridge", "add", ("Educator", FAC_A2), PermissionDenied, "No one may change their own"),
        ("ridge", "teacher", "add", ("Educator", FAC_A2), PermissionDenied, "no one can grant more than they have"),
        ("ridge", "teacher", "add", ("AgencyAdmin", None), PermissionDenied, "no one can grant more than they have"),
        ("ridge", "peer", "add", ("Educator", FAC_A1), PermissionDenied, "permission to change this staff member"),
        ("ridge", "lake", "add", ("Educator", FAC_A1), NotFound, "No such staff member"),
        ("bay", "teacher", "add", ("Educator", FAC_B1), NotFound, "No such staff member"),
        ("teacher", "ridge", "add", ("Educator", FAC_A1), PermissionDenied, "permission to change this staff"),
        ("north", "teacher", "add", ("Educator", FAC_B1), ValidationFailed, "Not a facility of agency ag-north"),
        ("north", "teacher", "add", ("Educator", UNIT_A1), ValidationFailed, "Not a facility of agency ag-north"),
        ("north", "teacher", "add", ("Educator", "fac-none"), ValidationFailed, "Not a facility of agency"),
        ("north", "teacher", "add", ("Educator", None), ValidationFailed, "needs a facilityId"),
        ("north", "teacher", "add", ("AgencyAdmin", FAC_A1), ValidationFailed, "send no facilityId"),
        ("sys", "teacher", "add", ("SystemAdmin", None), ValidationFailed, "A SystemAdmin grant stands alone"),
        ("sys", "sys-2", "add", ("Educator", FAC_A1), Conflict, "has no agency to add grants in"),
    ],
    ids=[
        "held",
        "not-held",
        "last",
        "own-agency-admin",
        "own-facility-admin",
        "beyond-own-facility",
        "beyond-own-role",
        "peer",
        "other-facility-admin",
        "other-agency",
        "educator",
        "other-agencys-facility",
        "housing-unit",
        "no-such-facility",
        "no-facility",
        "agency-admin-with-facility",
        "system-admin",
        "system-admin-target",
    ],
)
def test_grant_changes_are_refused_and_leave_the_record_and_trail_unchanged(
    directory: dict, user: str, target: str, change: str, body: tuple, error: type, message: str
) -> None:
    # Given a FacilityAdmin peer of ridge and a second SystemAdmin
    staff_store.put_staff(directory["ridge"].model_copy(update={"username": "peer"}))
    staff_store.put_staff(StaffMember(username="sys-2", role=Role.SYSTEM_ADMIN))
    before = staff_store.get_staff(target)
    # When the grant change is asked for
    call = admin_service.add_grant if change == "add" else admin_service.remove_grant
    with pytest.raises(error) as refused:
        call(directory[user], target, _grant_request(*body))
    # Then it is refused, saying why, and the target's record and the trails are as they were
    assert message in str(refused.value.message) + str(getattr(refused.value, "errors", ""))
    assert staff_store.get_staff(target) == before
    assert _grant_actions() == []


def test_changing_the_scope_replaces_every_grant_and_keeps_the_names(directory: dict, user_pool: str) -> None:
    # Given an Educator with a title who was also given a grant at lake
    _invite(directory["north"], role="Educator", agencyId=AGENCY_A, facilityIds=[FAC_A1], title="Teacher")
    admin_service.add_grant(directory["north"], "mia", _grant_request("Educator", FAC_A2))
    # When the agency admin sets their role and scope (the v1 route)
    changed = admin_service.change_staff(
        directory["north"], "mia", ChangeStaffRequest(role=Role.FACILITY_ADMIN, agencyId=AGENCY_A, facilityIds=[FAC_A2])
    )
    # Then that one grant is all they hold, and the title stays
    assert changed.grants == (Grant(role=Role.FACILITY_ADMIN, agency_id=AGENCY_A, facility_id=FAC_A2),)
    assert staff_store.get_staff("mia") == changed and changed.title == "Teacher" and changed.version == 2


def test_list_staff_shows_a_member_with_mixed_grants_only_to_who_could_grant_all_of_them(directory: dict) -> None:
    # Given teacher, an Educator at ridge facility, made FacilityAdmin at lake too
    admin_service.add_grant(directory["north"], "teacher", _grant_request("FacilityAdmin", FAC_A2))
    # Then ridge's admin no longer lists them (lake is beyond their grant); the agency admin does
    assert {m.username for m in admin_service.list_staff(directory["ridge"])} == {"ridge"}
    assert "teacher" in {m.username for m in admin_service.list_staff(directory["north"])}
    # And teacher, now an admin at lake, lists lake's admin (a grant they hold there) but not ridge's
    teacher = staff_store.get_staff("teacher")
    assert {m.username for m in admin_service.list_staff(teacher)} == {"teacher", "lake"}


# ------------------------------------------------------------------ provisioning (SCIM, issue 19)


def test_provision_staff_is_for_the_agencys_admins_and_makes_a_record_that_covers_nothing(
    directory: dict, user_pool: str
) -> None:
    # Given a FacilityAdmin and the agency's AgencyAdmin
    # When the FacilityAdmin provisions someone, it is refused and nothing is written
    with pytest.raises(PermissionDenied):
        admin_service.provision_staff(directory["ridge"], "newbie", AGENCY_A, {"title": "Teacher"})
    assert staff_store.get_staff("newbie") is None
    # When the AgencyAdmin does, the record is of the agency with no grant, and its login is disabled when asked
    made = admin_service.provision_staff(
        directory["north"], "newbie", AGENCY_A, {"title": " Teacher ", "email": "n@doc.example"}, active=False
    )
    stored = staff_store.get_staff("newbie")
    assert stored == made and stored.grants == () and stored.agency_id == AGENCY_A and stored.title == "Teacher"
    login = boto3.client("cognito-idp", region_name="us-east-1").admin_get_user(UserPoolId=user_pool, Username="newbie")
    assert login["Enabled"] is False
    # And a field over its limit is refused before anything is written
    with pytest.raises(ValidationFailed):
        admin_service.provision_staff(directory["north"], "longer", AGENCY_A, {"title": "t" * 121})
    assert staff_store.get_staff("longer") is None


def test_update_staff_record_from_a_stale_read_changes_nothing(directory: dict, user_pool: str) -> None:
    # Given the teacher at version 0, changed once since
    admin_service.update_staff_record(directory["north"], "teacher", {"title": "Dean"})
    before = staff_store.get_staff("teacher")
    # When a change is made from the version-0 read
    with pytest.raises(Conflict):
        admin_service.update_staff_record(directory["north"], "teacher", {"title": "Late"}, expected_version=0)
    # Then the record is as it was, and the first change is audited with the field's name only
    assert staff_store.get_staff("teacher") == before and before is not None and before.title == "Dean"
    assert _actions(FAC_A1).count("STAFF_PROFILE_CHANGED") == 1
    # And the same value again, blanks around it, changes and audits nothing
    assert admin_service.update_staff_record(directory["north"], "teacher", {"title": " Dean "}) == before
    assert _actions(FAC_A1).count("STAFF_PROFILE_CHANGED") == 1


def test_the_last_grant_goes_only_when_the_caller_says_so(directory: dict, user_pool: str) -> None:
    request = GrantChangeRequest(role=Role.EDUCATOR, facilityId=FAC_A1)
    # The API's rule: the last grant stays (409)
    with pytest.raises(Conflict):
        admin_service.remove_grant(directory["north"], "teacher", request)
    assert staff_store.get_staff("teacher").grants  # type: ignore[union-attr]
    # SCIM's: a group membership is the grant, so the last one goes and the record covers nothing
    left = admin_service.remove_grant(directory["north"], "teacher", request, allow_last=True)
    assert left.grants == () and staff_store.get_staff("teacher") == left
    assert left.agency_id == AGENCY_A
