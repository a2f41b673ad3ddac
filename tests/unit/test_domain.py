"""Domain models: camelCase on the wire, frozen, validated; a move records where a learner came from."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from intake.domain import (
    CONFIRMABLE,
    COUNT_NAMES,
    UNFINISHED,
    AuditEntry,
    HistoryEntry,
    HistoryKind,
    Learner,
    LearnerEdit,
    LearnerStatus,
    Location,
    LocationKind,
    Move,
    PasswordRule,
    Role,
    StaffMember,
    Upload,
    UploadStatus,
    history_entry,
    move_of,
)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def learner(**changes: object) -> Learner:
    fields: dict[str, object] = {
        "learner_id": "lrn-1",
        "agency_id": "ag-north",
        "doc_id": "100201",
        "first_name": "Marcus",
        "last_name": "Hill",
        "date_of_birth": "03/14/1988",
        "location_id": "unit-ridge-a",
        "facility_id": "fac-ridge",
        "created_at": AT,
        "created_by": "ridge",
    }
    fields.update(changes)
    return Learner(**fields)


def test_to_json_dict_is_camel_case_and_json_typed() -> None:
    # Given a learner
    # When it is put on the wire
    wire = learner().to_json_dict()
    # Then keys are camelCase and the datetime is an ISO string
    assert wire["learnerId"] == "lrn-1"
    assert wire["docId"] == "100201"
    assert wire["dateOfBirth"] == "03/14/1988"
    assert wire["createdAt"] == "2026-03-01T12:00:00Z"
    assert "learner_id" not in wire
    assert wire["role"] == "Learner" and wire["history"] == []


def test_models_accept_camel_case_and_snake_case_alike() -> None:
    # Given the same staff member from the wire and from code, Then they are equal
    from_wire = StaffMember.model_validate({"username": "ridge", "role": "FacilityAdmin", "facilityIds": ["fac-ridge"]})
    in_code = StaffMember(username="ridge", role=Role.FACILITY_ADMIN, facility_ids=("fac-ridge",))
    assert from_wire == in_code
    assert from_wire.active is True


def test_domain_models_are_frozen() -> None:
    # Given a staff member, When code tries to change it in place, Then it is refused
    member = StaffMember(username="ridge", role=Role.EDUCATOR)
    with pytest.raises(ValidationError):
        member.active = False  # type: ignore[misc]


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValidationError):
        StaffMember(username="x", role="Janitor")  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [7, 129])
def test_password_rule_min_length_is_between_8_and_128(length: int) -> None:
    # Given a rule shorter than 8 or longer than 128, Then it is refused
    with pytest.raises(ValidationError):
        PasswordRule(min_length=length)


def test_password_rule_defaults_and_blank_format_limit() -> None:
    # Given a rule with nothing set, Then it asks 8 characters, no classes and a random blank password
    rule = PasswordRule()
    assert (rule.min_length, rule.required_classes, rule.blank_format) == (8, (), None)
    # And a blank format longer than 100 characters is refused
    with pytest.raises(ValidationError):
        PasswordRule(blank_format="x" * 101)


def test_location_defaults_follow_the_system() -> None:
    # Given a location with only its identity, Then it is active and its settings are the system's (None)
    unit = Location(location_id="u", name="U", agency_id="a", facility_id="f", kind=LocationKind.HOUSING_UNIT)
    assert unit.active is True and unit.auto_confirm_drops is False
    assert (unit.password_rule, unit.max_upload_bytes, unit.max_upload_rows) == (None, None, None)


def test_move_of_records_from_where_to_where_by_whom() -> None:
    # Given a learner at the ridge facility and a destination at the lake facility
    destination = Location(
        location_id="unit-lake-a",
        name="A",
        agency_id="ag-north",
        facility_id="fac-lake",
        kind=LocationKind.HOUSING_UNIT,
    )
    # When the move is described
    move = move_of(learner(), destination, AT, "north", "upl-1")
    # Then it records both ends, when, who and which upload
    assert (move.from_location_id, move.from_facility_id) == ("unit-ridge-a", "fac-ridge")
    assert (move.to_location_id, move.to_facility_id) == ("unit-lake-a", "fac-lake")
    assert (move.moved_at, move.moved_by, move.upload_id) == (AT, "north", "upl-1")
    assert move_of(learner(), destination, AT, "north").upload_id is None


def test_upload_statuses_confirmable_and_unfinished() -> None:
    # Then only validated uploads can be confirmed, and unfinished ones are those still before creation
    assert {UploadStatus.VALIDATED, UploadStatus.VALIDATED_WITH_ERRORS} == CONFIRMABLE
    assert {
        UploadStatus.AWAITING_FILE,
        UploadStatus.VALIDATING,
        UploadStatus.VALIDATED,
        UploadStatus.VALIDATED_WITH_ERRORS,
    } == UNFINISHED
    assert not UNFINISHED & {UploadStatus.CREATING, UploadStatus.COMPLETED, UploadStatus.EXPIRED}
    assert COUNT_NAMES == (
        "rows",
        "valid",
        "invalid",
        "toCreate",
        "toMove",
        "toReactivate",
        "toUpdate",
        "unchanged",
        "toDeactivate",
        "warnings",
        "created",
        "moved",
        "reactivated",
        "updated",
        "deactivated",
        "skipped",
        "failed",
    )


def test_upload_mutable_defaults_are_not_shared() -> None:
    # Given two uploads made with default counts and errors
    fields = {
        "upload_id": "u1",
        "facility_id": "f",
        "agency_id": "a",
        "source": "link",
        "object_key": "incoming/f/u1.csv",
        "status": UploadStatus.AWAITING_FILE,
        "created_at": "2026-03-01T12:00:00Z",
        "created_by": "ridge",
        "expires_at": "2026-03-03T12:00:00Z",
    }
    first, second = Upload(**fields), Upload(**{**fields, "upload_id": "u2"})
    # When one's list is filled, Then the other's stays empty
    first.errors.append({"code": "X"})
    assert second.errors == [] and second.counts == {}
    assert first.to_json_dict()["objectKey"] == "incoming/f/u1.csv"


def test_audit_entry_details_hold_only_scalars() -> None:
    # Given details with a nested value, Then the entry refuses it (ids and counts only)
    base = {
        "scope": "fac-ridge",
        "entry_id": "e",
        "at": AT,
        "actor": "ridge",
        "action": "LEARNER_CREATED",
        "target_type": "learner",
        "target_id": "lrn-1",
    }
    assert AuditEntry(**base, details={"n": 1, "ok": True, "s": "x", "none": None}).details["n"] == 1
    with pytest.raises(ValidationError):
        AuditEntry(**base, details={"nested": {"a": 1}})


def test_a_move_entry_keeps_the_v1_wire_names_and_says_its_kind() -> None:
    # Given a learner at unit A and a destination at another facility
    learner = Learner(
        learner_id="L-1",
        agency_id="ag",
        doc_id="D1",
        first_name="A",
        last_name="B",
        date_of_birth="01/02/1990",
        location_id="unit-a",
        facility_id="fac-a",
        created_at=AT,
        created_by="x",
    )
    there = Location(
        location_id="unit-b", name="B", agency_id="ag", facility_id="fac-b", kind=LocationKind.HOUSING_UNIT
    )
    # When its move is recorded
    wire = move_of(learner, there, AT, "lake", "up-1").to_json_dict()
    # Then v1 readers find their fields, v2 readers the kind, at and by
    assert (wire["kind"], wire["at"], wire["by"]) == ("MOVED", wire["movedAt"], "lake")
    assert (wire["fromLocationId"], wire["toFacilityId"], wire["movedBy"], wire["uploadId"]) == (
        "unit-a",
        "fac-b",
        "lake",
        "up-1",
    )
    assert Move is HistoryEntry


def test_a_learner_defaults_to_active_version_one_without_a_username_and_facilities_to_learner_access_on() -> None:
    learner = Learner(
        learner_id="L-1",
        agency_id="ag",
        doc_id="D1",
        first_name="A",
        last_name="B",
        date_of_birth="01/02/1990",
        location_id="u",
        facility_id="f",
        created_at=AT,
        created_by="x",
    )
    assert (learner.status, learner.version, learner.username, learner.updated_at) == (
        LearnerStatus.ACTIVE,
        1,
        None,
        None,
    )
    assert Location(
        location_id="f", name="F", agency_id="ag", facility_id="f", kind=LocationKind.FACILITY
    ).learner_access


def test_an_edit_entry_names_the_fields_never_their_values() -> None:
    entry = history_entry(HistoryKind.EDITED, AT, "ridge", fields=("lastName", "dateOfBirth"))
    wire = entry.to_json_dict()
    assert wire["kind"] == "EDITED" and wire["fields"] == ["lastName", "dateOfBirth"]
    assert LearnerEdit().first_name is None and LearnerEdit(last_name="Lee").last_name == "Lee"
