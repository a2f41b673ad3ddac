"""Who may see and change what (intake.authz), role by role, with the scope edges each rule has."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from intake import authz
from intake.domain import Grant, Learner, Location, LocationKind, Role, StaffMember
from intake.errors import CREATE_DENIED_MESSAGE, NotFound, PermissionDenied

SYS = StaffMember(username="sys", role=Role.SYSTEM_ADMIN)
NORTH = StaffMember(username="north", role=Role.AGENCY_ADMIN, agency_id="ag-n")
RIDGE = StaffMember(username="ridge", role=Role.FACILITY_ADMIN, agency_id="ag-n", facility_ids=("fac-r",))
TEACHER = StaffMember(username="teacher", role=Role.EDUCATOR, agency_id="ag-n", facility_ids=("fac-r",))
EVERYONE = (SYS, NORTH, RIDGE, TEACHER)


def _off(staff: StaffMember) -> StaffMember:
    return staff.model_copy(update={"active": False})


def _unit(facility: str = "fac-r", agency: str = "ag-n") -> Location:
    return Location(
        location_id=f"{facility}-a", name="A", agency_id=agency, facility_id=facility, kind=LocationKind.HOUSING_UNIT
    )


def _learner(facility: str = "fac-r", agency: str = "ag-n") -> Learner:
    return Learner(
        learner_id="l1",
        agency_id=agency,
        doc_id="1",
        first_name="A",
        last_name="B",
        date_of_birth="01/01/1990",
        location_id=f"{facility}-a",
        facility_id=facility,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_by="sys",
    )


# ---------------------------------------------------------------- scope and learners
@pytest.mark.parametrize(
    ("staff", "home", "sibling", "other_agency"),
    [(SYS, True, True, True), (NORTH, True, True, False), (RIDGE, True, False, False), (TEACHER, True, False, False)],
    ids=["system", "agency", "facility", "educator"],
)
def test_scope_by_role(staff: StaffMember, home: bool, sibling: bool, other_agency: bool) -> None:
    assert authz.in_scope(staff, "ag-n", "fac-r") is home
    assert authz.in_scope(staff, "ag-n", "fac-l") is sibling
    assert authz.in_scope(staff, "ag-s", "fac-r") is other_agency  # the same facility id in another agency
    assert authz.can_view_location(staff, _unit()) is home
    assert authz.can_view_location(staff, _unit("fac-l")) is sibling


@pytest.mark.parametrize("staff", EVERYONE, ids=lambda s: s.username)
def test_a_disabled_staff_member_sees_and_changes_nothing(staff: StaffMember) -> None:
    off = _off(staff)
    assert not authz.in_scope(off, "ag-n", "fac-r")
    assert not authz.can_write_location(off, _unit())
    assert not authz.can_view_learner(off, _learner())
    assert not authz.can_view_agency(off, "ag-n")
    assert not authz.can_admin_agency(off, "ag-n")
    assert not authz.staff_in_scope(off, TEACHER)
    assert not authz.outranks(off, TEACHER)
    assert not authz.within_grant(off, Role.EDUCATOR, "ag-n", ("fac-r",))


def test_only_admins_write_and_only_in_scope() -> None:
    assert [authz.can_write_location(s, _unit()) for s in EVERYONE] == [True, True, True, False]
    assert [authz.can_write_location(s, _unit("fac-l")) for s in EVERYONE] == [True, True, False, False]
    assert [authz.can_write_location(s, _unit("fac-r", "ag-s")) for s in EVERYONE] == [True, False, False, False]
    assert authz.can_admin_facility(RIDGE, _unit()) and not authz.can_admin_facility(TEACHER, _unit())


def test_admins_see_every_learner_of_their_agency_educators_only_their_facilities() -> None:
    sibling, foreign = _learner("fac-l"), _learner("fac-r", "ag-s")
    assert [authz.can_view_learner(s, _learner()) for s in EVERYONE] == [True, True, True, True]
    assert [authz.can_view_learner(s, sibling) for s in EVERYONE] == [True, True, True, False]
    assert [authz.can_view_learner(s, foreign) for s in EVERYONE] == [True, False, False, False]


def test_learners_are_changed_by_admins_of_their_facility_only() -> None:
    # Given a learner at home, one at a sibling facility and one of another agency
    sibling, foreign = _learner("fac-l"), _learner("fac-r", "ag-s")
    # Then only admins whose scope holds the learner's facility may change it; Educators never
    assert [authz.can_write_learner(s, _learner()) for s in EVERYONE] == [True, True, True, False]
    assert [authz.can_write_learner(s, sibling) for s in EVERYONE] == [True, True, False, False]
    assert [authz.can_write_learner(s, foreign) for s in EVERYONE] == [True, False, False, False]
    assert not authz.can_write_learner(_off(SYS), _learner())


def test_a_learner_write_outside_scope_is_not_found_and_an_educators_is_denied() -> None:
    # Given a learner of RIDGE's facility, Then RIDGE gets it back
    assert authz.require_learner_write(RIDGE, _learner()) == _learner()
    # And a learner that does not exist, or lies outside the requestor's facilities, is NotFound (even to read-only
    # staff: whether it exists is not told)
    for staff, learner in (
        (RIDGE, None),
        (RIDGE, _learner("fac-l")),
        (TEACHER, _learner("fac-l")),
        (NORTH, _learner("fac-r", "ag-s")),
    ):
        with pytest.raises(NotFound) as missing:
            authz.require_learner_write(staff, learner)
        assert missing.value.message == "No such learner"
    # And an Educator of the learner's facility is refused, in words that say why
    with pytest.raises(PermissionDenied) as refused:
        authz.require_learner_write(TEACHER, _learner())
    assert refused.value.message == "Requestor does not have permission to change this learner"


def test_create_and_move_refusals_carry_the_portals_words() -> None:
    assert authz.require_create_permission(RIDGE, _unit()) == _unit()
    assert authz.require_move_permission(RIDGE, _unit()) == _unit()
    for location in (None, _unit("fac-l")):
        with pytest.raises(PermissionDenied) as created:
            authz.require_create_permission(RIDGE, location)
        assert created.value.message == CREATE_DENIED_MESSAGE
        with pytest.raises(PermissionDenied) as moved:
            authz.require_move_permission(RIDGE, location)
        assert moved.value.message == "Requestor does not have permission to move a learner to this location"


def test_a_doc_id_search_covers_the_requestors_agency_or_every_agency() -> None:
    assert authz.searchable_agencies(SYS) is None
    assert authz.searchable_agencies(NORTH) == frozenset({"ag-n"})
    assert authz.searchable_agencies(TEACHER) == frozenset({"ag-n"})
    assert authz.searchable_agencies(StaffMember(username="x", role=Role.FACILITY_ADMIN)) == frozenset()


# ---------------------------------------------------------------- administration
def test_agencies_are_seen_by_their_own_and_administered_by_their_admins() -> None:
    assert [authz.can_view_agency(s, "ag-n") for s in EVERYONE] == [True, True, True, True]
    assert [authz.can_view_agency(s, "ag-s") for s in EVERYONE] == [True, False, False, False]
    assert [authz.can_admin_agency(s, "ag-n") for s in EVERYONE] == [True, True, False, False]
    assert [authz.can_admin_agency(s, "ag-s") for s in EVERYONE] == [True, False, False, False]


@pytest.mark.parametrize(
    ("staff", "role", "agency", "facilities", "allowed"),
    [
        (SYS, Role.SYSTEM_ADMIN, None, (), True),
        (SYS, Role.AGENCY_ADMIN, "ag-s", (), True),
        (NORTH, Role.AGENCY_ADMIN, "ag-n", (), True),
        (NORTH, Role.SYSTEM_ADMIN, None, (), False),
        (NORTH, Role.FACILITY_ADMIN, "ag-s", ("fac-x",), False),
        (NORTH, Role.EDUCATOR, "ag-n", ("fac-l",), True),
        (RIDGE, Role.FACILITY_ADMIN, "ag-n", ("fac-r",), True),
        (RIDGE, Role.EDUCATOR, "ag-n", ("fac-r",), True),
        (RIDGE, Role.EDUCATOR, "ag-n", (), True),
        (RIDGE, Role.EDUCATOR, "ag-n", ("fac-r", "fac-l"), False),
        (RIDGE, Role.AGENCY_ADMIN, "ag-n", (), False),
        (RIDGE, Role.EDUCATOR, "ag-s", ("fac-r",), False),
        (TEACHER, Role.EDUCATOR, "ag-n", ("fac-r",), False),
    ],
)
def test_no_one_grants_more_than_they_have(
    staff: StaffMember, role: Role, agency: str | None, facilities: tuple[str, ...], allowed: bool
) -> None:
    assert authz.within_grant(staff, role, agency, facilities) is allowed


@pytest.mark.parametrize(
    ("staff", "other", "inside"),
    [
        (SYS, SYS.model_copy(update={"username": "sys2"}), True),
        (NORTH, SYS, False),
        (NORTH, NORTH.model_copy(update={"username": "north2"}), True),
        (NORTH, RIDGE.model_copy(update={"agency_id": "ag-s"}), False),
        (RIDGE, NORTH, False),
        (RIDGE, TEACHER, True),
        (RIDGE, TEACHER.model_copy(update={"facility_ids": ("fac-r", "fac-l")}), False),
        (RIDGE, RIDGE.model_copy(update={"username": "ridge2"}), True),
        (TEACHER, TEACHER.model_copy(update={"username": "t2"}), True),
    ],
)
def test_another_staff_member_is_in_scope_when_their_scope_lies_within_ones_own(
    staff: StaffMember, other: StaffMember, inside: bool
) -> None:
    assert authz.staff_in_scope(staff, other) is inside


def test_only_a_higher_role_changes_a_staff_member_and_no_one_their_own_record() -> None:
    peer_admin = RIDGE.model_copy(update={"username": "ridge2"})
    peer_agency = NORTH.model_copy(update={"username": "north2"})
    other_sys = SYS.model_copy(update={"username": "sys2"})
    assert authz.can_manage_staff(RIDGE, TEACHER)
    assert not authz.can_manage_staff(RIDGE, peer_admin)
    assert not authz.can_manage_staff(NORTH, peer_agency)
    assert authz.can_manage_staff(NORTH, RIDGE) and authz.can_manage_staff(SYS, NORTH)
    assert authz.can_manage_staff(SYS, other_sys)  # the top role: a departed SystemAdmin can be shut out
    assert not authz.can_manage_staff(SYS, SYS) and not authz.can_manage_staff(RIDGE, RIDGE)
    assert not authz.can_manage_staff(TEACHER, TEACHER.model_copy(update={"username": "t2"}))
    # outranking is not enough: the target must also lie within what one could grant
    assert not authz.can_manage_staff(RIDGE, TEACHER.model_copy(update={"facility_ids": ("fac-l",)}))
    assert [authz.outranks(s, TEACHER) for s in EVERYONE] == [True, True, True, False]
    assert [authz.outranks(s, RIDGE) for s in EVERYONE] == [True, True, False, False]


# ---------------------------------------------------------------- grants per facility (issue 19)
def _grant(role: Role, facility: str | None = None, agency: str | None = "ag-n") -> Grant:
    return Grant(role=role, agency_id=None if role is Role.SYSTEM_ADMIN else agency, facility_id=facility)


def _member(username: str, *grants: Grant) -> StaffMember:
    return StaffMember(username=username, grants=grants)


# FacilityAdmin at ridge (fac-r), Educator at lake (fac-l)
MIXED = _member("mixed", _grant(Role.FACILITY_ADMIN, "fac-r"), _grant(Role.EDUCATOR, "fac-l"))
LAKE_ADMIN = _member("lake-admin", _grant(Role.FACILITY_ADMIN, "fac-l"))
LAKE_TEACHER = _member("lake-teacher", _grant(Role.EDUCATOR, "fac-l"))
BOTH_ADMIN = _member("both-admin", _grant(Role.FACILITY_ADMIN, "fac-r"), _grant(Role.FACILITY_ADMIN, "fac-l"))
NO_GRANTS = StaffMember(username="nobody", role=Role.EDUCATOR)  # a v1 record that covers nothing


def test_a_facility_admin_at_one_facility_and_educator_at_another_writes_only_at_the_first() -> None:
    # Given MIXED: FacilityAdmin at ridge, Educator at lake
    # Then both facilities are in scope, no other
    assert authz.in_scope(MIXED, "ag-n", "fac-r") and authz.in_scope(MIXED, "ag-n", "fac-l")
    assert not authz.in_scope(MIXED, "ag-n", "fac-x") and not authz.in_scope(MIXED, "ag-s", "fac-r")
    # And learners are created, changed and moved at ridge only; lake's are read-only, in the portal's words
    assert authz.can_write_location(MIXED, _unit()) and not authz.can_write_location(MIXED, _unit("fac-l"))
    assert authz.can_write_learner(MIXED, _learner()) and not authz.can_write_learner(MIXED, _learner("fac-l"))
    assert authz.can_admin_facility(MIXED, _unit()) and not authz.can_admin_facility(MIXED, _unit("fac-l"))
    assert authz.require_create_permission(MIXED, _unit()) == _unit()
    with pytest.raises(PermissionDenied) as created:
        authz.require_create_permission(MIXED, _unit("fac-l"))
    assert created.value.message == CREATE_DENIED_MESSAGE
    with pytest.raises(PermissionDenied, match="permission to change this learner"):
        authz.require_learner_write(MIXED, _learner("fac-l"))  # in scope: denied, not hidden
    with pytest.raises(NotFound):
        authz.require_learner_write(MIXED, _learner("fac-x"))
    # And, as an admin of the agency, MIXED sees every learner of it (not another agency's)
    assert authz.can_view_learner(MIXED, _learner("fac-x"))
    assert not authz.can_view_learner(MIXED, _learner("fac-r", "ag-s"))


def test_the_highest_grant_covering_a_place_decides() -> None:
    # Given an Educator and FacilityAdmin at the same facility, and an AgencyAdmin who is also an Educator somewhere
    double = _member("double", _grant(Role.EDUCATOR, "fac-r"), _grant(Role.FACILITY_ADMIN, "fac-r"))
    agency = _member("agency", _grant(Role.AGENCY_ADMIN), _grant(Role.EDUCATOR, "fac-r"))
    # Then the rank at a place is the highest grant covering it, 0 where none does
    assert authz.covering_rank(double, "ag-n", "fac-r") == 2 and authz.can_write_learner(double, _learner())
    assert authz.covering_rank(agency, "ag-n", "fac-r") == 3 and authz.covering_rank(agency, "ag-n", "fac-x") == 3
    assert authz.covering_rank(agency, "ag-n", None) == 3  # an AgencyAdmin grant covers the agency as a whole
    assert authz.covering_rank(double, "ag-n", None) == 0  # a facility's grant does not
    assert authz.covering_rank(double, "ag-n", "fac-x") == 0 and authz.covering_rank(double, "ag-s", "fac-r") == 0
    assert authz.covering_rank(SYS, None, None) == 4 and authz.covering_rank(SYS, "ag-s", "fac-q") == 4
    assert authz.covering_rank(_off(double), "ag-n", "fac-r") == 0
    assert authz.covering_rank(NO_GRANTS, "ag-n", "fac-r") == 0 and not authz.in_scope(NO_GRANTS, "ag-n", "fac-r")


def test_educator_grants_alone_show_only_their_facilities_learners() -> None:
    # Given an Educator at ridge and at lake
    teacher = _member("t2", _grant(Role.EDUCATOR, "fac-r"), _grant(Role.EDUCATOR, "fac-l"))
    # Then they see learners at both, none elsewhere in the agency, and change none
    assert authz.can_view_learner(teacher, _learner()) and authz.can_view_learner(teacher, _learner("fac-l"))
    assert not authz.can_view_learner(teacher, _learner("fac-x"))
    assert not authz.can_write_learner(teacher, _learner())
    # And a disabled MIXED sees nothing
    assert not authz.can_view_learner(_off(MIXED), _learner())


@pytest.mark.parametrize(
    ("staff", "grant", "allowed"),
    [
        (MIXED, _grant(Role.FACILITY_ADMIN, "fac-r"), True),
        (MIXED, _grant(Role.EDUCATOR, "fac-r"), True),
        (MIXED, _grant(Role.EDUCATOR, "fac-l"), False),  # an Educator there grants nothing
        (MIXED, _grant(Role.FACILITY_ADMIN, "fac-l"), False),
        (MIXED, _grant(Role.EDUCATOR, "fac-x"), False),
        (MIXED, _grant(Role.AGENCY_ADMIN), False),
        (NORTH, _grant(Role.AGENCY_ADMIN), True),
        (NORTH, _grant(Role.AGENCY_ADMIN, agency="ag-s"), False),
        (NORTH, _grant(Role.SYSTEM_ADMIN), False),
        (SYS, _grant(Role.SYSTEM_ADMIN), True),
        (_off(NORTH), _grant(Role.EDUCATOR, "fac-r"), False),
    ],
)
def test_a_grant_is_given_only_by_a_facility_admin_or_above_holding_at_least_it_there(
    staff: StaffMember, grant: Grant, allowed: bool
) -> None:
    assert authz.can_grant(staff, grant) is allowed


@pytest.mark.parametrize(
    ("staff", "role", "agency", "facilities", "allowed"),
    [
        (MIXED, Role.EDUCATOR, "ag-n", ("fac-r",), True),
        (MIXED, Role.EDUCATOR, "ag-n", ("fac-r", "fac-l"), False),  # each facility by its own grant
        (MIXED, Role.EDUCATOR, "ag-n", (), True),
        (MIXED, Role.FACILITY_ADMIN, "ag-n", (), True),
        (MIXED, Role.EDUCATOR, "ag-s", (), False),
        (TEACHER, Role.EDUCATOR, "ag-n", (), False),
        (LAKE_TEACHER, Role.EDUCATOR, "ag-n", (), False),
        (SYS, Role.EDUCATOR, "ag-s", (), True),
        (SYS, Role.AGENCY_ADMIN, None, (), True),
        (_off(MIXED), Role.EDUCATOR, "ag-n", (), False),
        (BOTH_ADMIN, Role.FACILITY_ADMIN, "ag-n", ("fac-l", "fac-r"), True),
        (BOTH_ADMIN, Role.AGENCY_ADMIN, "ag-n", (), False),
    ],
)
def test_within_grant_is_checked_facility_by_facility(
    staff: StaffMember, role: Role, agency: str | None, facilities: tuple[str, ...], allowed: bool
) -> None:
    assert authz.within_grant(staff, role, agency, facilities) is allowed


def test_another_staff_member_is_within_ones_grants_when_each_of_their_grants_is() -> None:
    # Given MIXED (FacilityAdmin at ridge, Educator at lake)
    # Then an AgencyAdmin or a FacilityAdmin of both could have granted all of it; a FacilityAdmin of ridge could not
    assert authz.within_grants(NORTH, MIXED) and authz.within_grants(BOTH_ADMIN, MIXED)
    assert not authz.within_grants(RIDGE, MIXED) and not authz.within_grants(LAKE_ADMIN, MIXED)
    # And a record without grants (incomplete, from before grants) is its agency's admins' (a SystemAdmin's if none)
    incomplete = NO_GRANTS.model_copy(update={"agency_id": "ag-n"})
    assert authz.within_grants(SYS, NO_GRANTS) and not authz.within_grants(NORTH, NO_GRANTS)
    assert authz.within_grants(NORTH, incomplete) and not authz.within_grants(RIDGE, incomplete)
    assert not authz.within_grants(_off(NORTH), incomplete)


def test_another_staff_member_is_in_scope_when_each_of_their_grants_places_is_covered() -> None:
    # Given MIXED, whose grants are at ridge and lake
    # Then staff covering both (with any role) have MIXED in scope; those covering one do not
    assert authz.staff_in_scope(BOTH_ADMIN, MIXED) and authz.staff_in_scope(NORTH, MIXED)
    assert not authz.staff_in_scope(RIDGE, MIXED) and not authz.staff_in_scope(LAKE_ADMIN, MIXED)
    # And MIXED has in scope the staff of either facility (an Educator's grant covers lake too), none elsewhere
    assert authz.staff_in_scope(MIXED, TEACHER) and authz.staff_in_scope(MIXED, LAKE_TEACHER)
    assert not authz.staff_in_scope(MIXED, _member("x", _grant(Role.EDUCATOR, "fac-x")))
    assert not authz.staff_in_scope(MIXED, NORTH) and not authz.staff_in_scope(MIXED, SYS)
    assert authz.staff_in_scope(SYS, MIXED)
    # And a record without grants is in scope of its own agency's staff only
    assert authz.staff_in_scope(RIDGE, NO_GRANTS.model_copy(update={"agency_id": "ag-n"}))
    assert not authz.staff_in_scope(RIDGE, NO_GRANTS.model_copy(update={"agency_id": "ag-s"}))


def test_one_outranks_another_only_above_them_at_every_one_of_their_grants() -> None:
    # Given MIXED (FacilityAdmin at ridge, Educator at lake)
    # Then the AgencyAdmin outranks MIXED; a FacilityAdmin of both does not (a peer at ridge), nor lake's admin
    assert authz.outranks(NORTH, MIXED) and authz.outranks(SYS, MIXED)
    assert not authz.outranks(BOTH_ADMIN, MIXED) and not authz.outranks(LAKE_ADMIN, MIXED)
    # And MIXED outranks ridge's Educator, not lake's (a peer there)
    assert authz.outranks(MIXED, TEACHER) and not authz.outranks(MIXED, LAKE_TEACHER)
    assert authz.outranks(LAKE_ADMIN, LAKE_TEACHER)
    # And against a record without grants, the v1 roles decide
    assert authz.outranks(RIDGE, NO_GRANTS) and not authz.outranks(TEACHER, NO_GRANTS)
    assert not authz.outranks(RIDGE, NO_GRANTS.model_copy(update={"role": Role.FACILITY_ADMIN}))


def test_who_manages_a_staff_member_with_mixed_grants() -> None:
    # Given MIXED (FacilityAdmin at ridge, Educator at lake)
    # Then MIXED manages ridge's Educator, not lake's, and not their own record
    assert authz.can_manage_staff(MIXED, TEACHER) and not authz.can_manage_staff(MIXED, LAKE_TEACHER)
    assert not authz.can_manage_staff(MIXED, MIXED)
    # And MIXED is managed by the AgencyAdmin only, not by a FacilityAdmin of both facilities nor lake's
    assert authz.can_manage_staff(NORTH, MIXED)
    assert not authz.can_manage_staff(BOTH_ADMIN, MIXED) and not authz.can_manage_staff(LAKE_ADMIN, MIXED)
