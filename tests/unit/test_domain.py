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
    Grant,
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


# ---------------------------------------------------------------- staff grants (issue 19)
def _g(role: Role, agency: str | None = "ag", facility: str | None = None) -> Grant:
    return Grant(role=role, agency_id=agency, facility_id=facility)


@pytest.mark.parametrize(
    ("role", "agency", "facility", "valid"),
    [
        (Role.SYSTEM_ADMIN, None, None, True),
        (Role.SYSTEM_ADMIN, "ag", None, False),
        (Role.SYSTEM_ADMIN, None, "f", False),
        (Role.AGENCY_ADMIN, "ag", None, True),
        (Role.AGENCY_ADMIN, None, None, False),
        (Role.AGENCY_ADMIN, "ag", "f", False),
        (Role.FACILITY_ADMIN, "ag", "f", True),
        (Role.FACILITY_ADMIN, "ag", None, False),
        (Role.FACILITY_ADMIN, None, "f", False),
        (Role.EDUCATOR, "ag", "f", True),
        (Role.EDUCATOR, "ag", None, False),
        (Role.EDUCATOR, None, "f", False),
    ],
)
def test_a_grant_has_the_scope_its_role_calls_for(
    role: Role, agency: str | None, facility: str | None, valid: bool
) -> None:
    # Given a role with an agency and facility, or without
    # When a grant is made of them
    # Then only the shape of its role is accepted
    if valid:
        assert (
            _g(role, agency, facility).rank
            == {"SystemAdmin": 4, "AgencyAdmin": 3, "FacilityAdmin": 2, "Educator": 1}[role]
        )
    else:
        with pytest.raises(ValidationError, match="A SystemAdmin grant has no agency or facility"):
            _g(role, agency, facility)


def test_a_v1_staff_member_gets_one_grant_per_facility() -> None:
    # Given a FacilityAdmin of two facilities built the v1 way (one role, agency, facilities)
    member = StaffMember(username="r", role=Role.FACILITY_ADMIN, agency_id="ag", facility_ids=("f2", "f1", "f2"))
    # Then it holds one grant per facility, highest first then by facility, and its facilities are sorted, once each
    assert member.grants == (_g(Role.FACILITY_ADMIN, facility="f1"), _g(Role.FACILITY_ADMIN, facility="f2"))
    assert member.facility_ids == ("f1", "f2") and member.version == 0
    # And agency- and system-wide roles get one grant each
    assert StaffMember(username="a", role=Role.AGENCY_ADMIN, agency_id="ag").grants == (_g(Role.AGENCY_ADMIN),)
    assert StaffMember(username="s", role=Role.SYSTEM_ADMIN).grants == (_g(Role.SYSTEM_ADMIN, None),)
    # And a SystemAdmin or AgencyAdmin naming more (a v1 copy of another's record with a higher role) covers its
    # system or agency: the v1 view follows the one grant
    system = StaffMember(username="s", role=Role.SYSTEM_ADMIN, agency_id="ag", facility_ids=("f1",))
    assert system.grants == (_g(Role.SYSTEM_ADMIN, None),) and (system.agency_id, system.facility_ids) == (None, ())
    agency = StaffMember(username="a", role=Role.AGENCY_ADMIN, agency_id="ag", facility_ids=("f1",))
    assert agency.grants == (_g(Role.AGENCY_ADMIN),) and (agency.agency_id, agency.facility_ids) == ("ag", ())


@pytest.mark.parametrize(
    "scope",
    [{}, {"facility_ids": ("f",)}, {"agency_id": "ag"}],
    ids=["nothing", "facilities-without-agency", "agency-without-facilities"],
)
def test_a_v1_staff_member_covering_nothing_has_no_grants_and_keeps_its_fields(scope: dict) -> None:
    # Given an Educator without a full scope (as the arrivals' stand-in for a removed creator is)
    member = StaffMember(username="x", role=Role.EDUCATOR, **scope)
    # Then it has no grants, and its v1 fields stand as given
    assert member.grants == ()
    assert (member.role, member.agency_id, member.facility_ids) == (
        Role.EDUCATOR,
        scope.get("agency_id"),
        scope.get("facility_ids", ()),
    )
    assert StaffMember(username="a", role=Role.AGENCY_ADMIN).grants == ()


def test_a_staff_member_built_from_grants_has_their_v1_view() -> None:
    # Given an Educator grant at f2 and a FacilityAdmin grant at f1
    member = StaffMember(
        username="m", grants=(_g(Role.EDUCATOR, facility="f2"), _g(Role.FACILITY_ADMIN, facility="f1"))
    )
    # Then the role is the highest grant's, the agency theirs, the facilities their union; the grants highest first
    assert (member.role, member.agency_id, member.facility_ids) == (Role.FACILITY_ADMIN, "ag", ("f1", "f2"))
    assert [g.role for g in member.grants] == [Role.FACILITY_ADMIN, Role.EDUCATOR]
    # And an AgencyAdmin grant names no facility
    agency = StaffMember(username="a", grants=(_g(Role.EDUCATOR, facility="f"), _g(Role.AGENCY_ADMIN)))
    assert (agency.role, agency.facility_ids) == (Role.AGENCY_ADMIN, ("f",))
    # And it reads back the same from its camelCase JSON (v1 fields and grants agreeing)
    wire = member.to_json_dict()
    assert wire["grants"] == [
        {"role": "FacilityAdmin", "agencyId": "ag", "facilityId": "f1"},
        {"role": "Educator", "agencyId": "ag", "facilityId": "f2"},
    ]
    assert (wire["role"], wire["agencyId"], wire["facilityIds"]) == ("FacilityAdmin", "ag", ["f1", "f2"])
    assert StaffMember.model_validate(wire) == member
    assert StaffMember.model_validate(wire | {"facilityIds": ["f2", "f1"]}) == member


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "needs a role or grants"),
        ({"grants": ()}, "needs a role or grants"),
        (
            {"grants": (_g(Role.EDUCATOR, facility="f"), _g(Role.EDUCATOR, facility="f"))},
            "each role at each facility once",
        ),
        ({"grants": (_g(Role.SYSTEM_ADMIN, None), _g(Role.AGENCY_ADMIN))}, "A SystemAdmin grant stands alone"),
        ({"grants": (_g(Role.AGENCY_ADMIN), _g(Role.AGENCY_ADMIN, "ag-2"))}, "in one agency"),
        ({"grants": (_g(Role.AGENCY_ADMIN),), "role": Role.SYSTEM_ADMIN}, "role must follow from the grants"),
        ({"grants": (_g(Role.AGENCY_ADMIN),), "agency_id": "ag-2"}, "agency_id must follow from the grants"),
        ({"grants": (_g(Role.EDUCATOR, facility="f"),), "facility_ids": ("g",)}, "facility_ids must follow"),
    ],
    ids=[
        "nothing",
        "no-grants",
        "twice",
        "system-not-alone",
        "two-agencies",
        "other-role",
        "other-agency",
        "other-facilities",
    ],
)
def test_staff_members_of_other_shapes_are_refused(fields: dict, message: str) -> None:
    # Given fields that break a grant rule, When a staff member is built of them, Then it is refused, saying which
    with pytest.raises(ValueError, match=message):
        StaffMember(username="x", **fields)


def test_the_facilities_where_a_staff_member_holds_a_role() -> None:
    # Given a FacilityAdmin of f1 and f3 who is an Educator at f2, and an AgencyAdmin
    member = StaffMember(
        username="m",
        grants=(
            _g(Role.FACILITY_ADMIN, facility="f3"),
            _g(Role.EDUCATOR, facility="f2"),
            _g(Role.FACILITY_ADMIN, facility="f1"),
        ),
    )
    # Then each role's facilities are those of its grants, by id; an agency-wide grant names none
    assert member.facilities_as(Role.FACILITY_ADMIN) == ("f1", "f3")
    assert member.facilities_as(Role.EDUCATOR) == ("f2",)
    assert StaffMember(username="a", role=Role.AGENCY_ADMIN, agency_id="ag").facilities_as(Role.AGENCY_ADMIN) == ()


def test_a_copy_with_a_new_role_or_scope_gets_new_grants_and_one_with_new_grants_a_new_v1_view() -> None:
    # Given a FacilityAdmin of f1 with a title
    member = StaffMember(username="r", role=Role.FACILITY_ADMIN, agency_id="ag", facility_ids=("f1",), title="Dr")
    # When copies change the role, the facilities, or the grants
    demoted = member.model_copy(update={"role": Role.EDUCATOR})
    moved = member.model_copy(update={"facility_ids": ("f2", "f3")})
    widened = member.model_copy(update={"grants": (*member.grants, _g(Role.EDUCATOR, facility="f9"))})
    # Then each copy's grants and v1 view agree, and the other fields are kept
    assert demoted.grants == (_g(Role.EDUCATOR, facility="f1"),)
    assert [g.facility_id for g in moved.grants] == ["f2", "f3"]
    assert (widened.role, widened.facility_ids) == (Role.FACILITY_ADMIN, ("f1", "f9"))
    assert demoted.title == moved.title == widened.title == "Dr"
    # And a copy changing neither keeps the grants as they are
    assert member.model_copy(update={"active": False}).grants == member.grants
    assert member.model_copy().grants == member.grants


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
