"""Bodies of the administration routes: ids and usernames by pattern, unknown fields refused, camelCase out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from api_routes.models import AuditResponse, InvitedStaffResponse, RenameRequest
from intake.admin_models import (
    NAME_MAX,
    ChangeStaffRequest,
    CreateAgencyRequest,
    CreateFacilityRequest,
    CreateHousingUnitRequest,
    FacilitySettingsOut,
    FacilitySettingsRequest,
    InviteStaffRequest,
    LocationOut,
    PasswordRuleIn,
)
from intake.domain import AuditEntry, CharacterClass, Role, StaffMember


@pytest.mark.parametrize("agency_id", ["west", "W1", "a_b-c", "a" * 64])
def test_ids_of_letters_digits_dash_and_underscore_are_taken(agency_id: str) -> None:
    assert CreateAgencyRequest(agencyId=agency_id, name="W").agencyId == agency_id


@pytest.mark.parametrize("agency_id", ["", "-west", "we st", "west/1", "a" * 65, "wést"])
def test_other_ids_are_refused(agency_id: str) -> None:
    with pytest.raises(ValidationError):
        CreateAgencyRequest(agencyId=agency_id, name="W")


def test_a_blank_id_is_generated_later() -> None:
    assert CreateAgencyRequest(name="W").agencyId is None
    assert CreateFacilityRequest(agencyId="a", name="F").facilityId is None
    assert CreateHousingUnitRequest(name="U").locationId is None


@pytest.mark.parametrize("name", ["", "x" * (NAME_MAX + 1)])
def test_names_are_1_to_120_characters(name: str) -> None:
    with pytest.raises(ValidationError):
        RenameRequest(name=name)
    assert RenameRequest(name="x" * NAME_MAX).name == "x" * NAME_MAX


@pytest.mark.parametrize(
    "body",
    [
        {"name": "W", "agencyID": "w"},
        {"name": "W", "extra": 1},
    ],
)
def test_unknown_fields_are_refused(body: dict) -> None:
    # Given a body with a misspelt or unknown field, Then it is refused rather than ignored
    with pytest.raises(ValidationError):
        CreateAgencyRequest.model_validate(body)


def test_facility_settings_request_knows_which_fields_were_sent() -> None:
    # Given a body that sends one field as null
    request = FacilitySettingsRequest.model_validate({"maxUploadRows": None})
    # Then that field counts as sent (it resets the setting), the others as not sent
    assert request.model_fields_set == {"maxUploadRows"}
    with pytest.raises(ValidationError):
        FacilitySettingsRequest(maxUploadBytes=0)


def test_password_rule_in_bounds_and_classes() -> None:
    rule = PasswordRuleIn.model_validate({"minLength": 12, "requiredClasses": ["upper", "digit"]})
    assert rule.requiredClasses == [CharacterClass.UPPER, CharacterClass.DIGIT]
    for body in ({"minLength": 7}, {"minLength": 129}, {"requiredClasses": ["emoji"]}, {"blankFormat": "x" * 101}):
        with pytest.raises(ValidationError):
            PasswordRuleIn.model_validate(body)


@pytest.mark.parametrize("username", ["mia", "mia.hill@doc.example", "m+1", "M_1-2"])
def test_usernames_like_emails_are_taken(username: str) -> None:
    assert InviteStaffRequest(username=username, role=Role.EDUCATOR).username == username


@pytest.mark.parametrize("username", ["", ".mia", "mia hill", "mia/1", "m" * 129])
def test_other_usernames_are_refused(username: str) -> None:
    with pytest.raises(ValidationError):
        InviteStaffRequest(username=username, role=Role.EDUCATOR)


def test_invite_checks_role_email_and_facility_count() -> None:
    with pytest.raises(ValidationError):
        InviteStaffRequest.model_validate({"username": "mia", "role": "Janitor"})
    with pytest.raises(ValidationError):
        InviteStaffRequest.model_validate({"username": "mia", "role": "Educator", "email": "not-an-email"})
    with pytest.raises(ValidationError):
        ChangeStaffRequest.model_validate({"role": "Educator", "facilityIds": [f"f{n}" for n in range(101)]})
    assert InviteStaffRequest.model_validate({"username": "mia", "role": "Educator"}).facilityIds == []


def test_responses_are_camel_case() -> None:
    # Given response bodies, When they are put on the wire, Then their keys are the contract's camelCase
    location = LocationOut(location_id="u", name="U", agency_id="a", facility_id="f", kind="HOUSING_UNIT", active=True)
    assert location.to_json_dict() == {
        "locationId": "u",
        "name": "U",
        "agencyId": "a",
        "facilityId": "f",
        "kind": "HOUSING_UNIT",
        "active": True,
    }
    settings = FacilitySettingsOut(
        facility_id="f",
        auto_confirm_drops=False,
        password_rule=None,
        max_upload_bytes=1,
        max_upload_rows=2,
        system_max_upload_bytes=3,
        system_max_upload_rows=4,
    )
    assert set(settings.to_json_dict()) == {
        "facilityId",
        "autoConfirmDrops",
        "passwordRule",
        "maxUploadBytes",
        "maxUploadRows",
        "systemMaxUploadBytes",
        "systemMaxUploadRows",
        "learnerAccess",
        "dropMode",
        "maxSyncDeactivationPercent",
    }
    assert settings.learner_access == "ON"
    assert (settings.drop_mode, settings.max_sync_deactivation_percent) == ("create", 10)
    invited = InvitedStaffResponse(staff=StaffMember(username="mia", role=Role.EDUCATOR), temporaryPassword="Tmp-1")
    assert invited.model_dump(mode="json", by_alias=True)["staff"]["facilityIds"] == []


def test_audit_response_has_entries_and_where_the_next_page_starts() -> None:
    entry = AuditEntry(
        scope="f",
        entry_id="e1",
        at=datetime(2026, 3, 1, tzinfo=UTC),
        actor="ridge",
        action="X",
        target_type="learner",
        target_id="l",
    )
    body = AuditResponse(entries=[entry], next="e1").model_dump(mode="json", by_alias=True)
    assert body["next"] == "e1" and body["entries"][0]["entryId"] == "e1"
    assert AuditResponse(entries=[]).next is None
