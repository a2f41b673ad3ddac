"""Authorization: who may see and change what, decided in this one place."""

from __future__ import annotations

from intake.domain import ROLE_RANK, Grant, Learner, Location, Role, StaffMember
from intake.errors import CREATE_DENIED_MESSAGE, NotFound, PermissionDenied

_WRITER_RANK = ROLE_RANK[Role.FACILITY_ADMIN]  # FacilityAdmin and above change learners and grant roles


def _covers(grant: Grant, agency_id: str | None, facility_id: str | None) -> bool:
    """Whether a grant covers a facility of an agency (facility None: the agency as a whole)."""
    if grant.role is Role.SYSTEM_ADMIN:
        return True
    if grant.agency_id != agency_id:
        return False
    return grant.role is Role.AGENCY_ADMIN or grant.facility_id == facility_id  # a facility's grant has its id


def covering_rank(staff: StaffMember, agency_id: str | None, facility_id: str | None) -> int:
    """The rank of the highest grant of an active staff member that covers a facility (facility None: the whole
    agency), or 0 if none does. Every decision about a place takes this one grant."""
    if not staff.active:
        return 0
    return max((g.rank for g in staff.grants if _covers(g, agency_id, facility_id)), default=0)


def in_scope(staff: StaffMember, agency_id: str, facility_id: str) -> bool:
    """Whether a facility (and so its housing units) lies in the staff member's scope."""
    return covering_rank(staff, agency_id, facility_id) > 0


def can_view_location(staff: StaffMember, location: Location) -> bool:
    """Whether the staff member may see a location, its template and its uploads."""
    return in_scope(staff, location.agency_id, location.facility_id)


def can_write_location(staff: StaffMember, location: Location) -> bool:
    """Whether the staff member may create learners in, or move learners into, a location."""
    return covering_rank(staff, location.agency_id, location.facility_id) >= _WRITER_RANK


def can_view_learner(staff: StaffMember, learner: Learner) -> bool:
    """Admins see every learner of their agency (to find arrivals to move): an AgencyAdmin or FacilityAdmin grant
    anywhere in it is enough. Otherwise (Educator grants) only the learners of the facilities covered."""
    if not staff.active:
        return False
    if any(g.rank >= _WRITER_RANK and g.agency_id == learner.agency_id for g in staff.grants):
        return True
    return in_scope(staff, learner.agency_id, learner.facility_id)  # (a SystemAdmin's grant covers every facility)


def can_write_learner(staff: StaffMember, learner: Learner) -> bool:
    """Whether the staff member may change a learner (edit, status, password): a writer in the learner's facility."""
    return covering_rank(staff, learner.agency_id, learner.facility_id) >= _WRITER_RANK


def require_learner_write(staff: StaffMember, learner: Learner | None) -> Learner:
    """The learner, if the staff member may change it. Outside their facilities it is NotFound, as if it did not
    exist (whether or not it does); in scope but read-only (Educators) it is PermissionDenied."""
    if learner is None or not in_scope(staff, learner.agency_id, learner.facility_id):
        raise NotFound("No such learner")
    if not can_write_learner(staff, learner):
        raise PermissionDenied("Requestor does not have permission to change this learner")
    return learner


def require_create_permission(staff: StaffMember, location: Location | None) -> Location:
    """The location, if the staff member may create a learner there; else the portal's exact refusal."""
    if location is None or not can_write_location(staff, location):
        raise PermissionDenied(CREATE_DENIED_MESSAGE)
    return location


def require_move_permission(staff: StaffMember, destination: Location | None) -> Location:
    """The destination, if the staff member may move a learner into it."""
    if destination is None or not can_write_location(staff, destination):
        raise PermissionDenied("Requestor does not have permission to move a learner to this location")
    return destination


def searchable_agencies(staff: StaffMember) -> frozenset[str] | None:
    """Agencies a DOC ID search covers: None means every agency (SystemAdmin)."""
    if staff.role is Role.SYSTEM_ADMIN:
        return None
    return frozenset({staff.agency_id}) if staff.agency_id else frozenset()


# ------------------------------------------------------------------ administration (agencies, locations, staff)


def can_view_agency(staff: StaffMember, agency_id: str) -> bool:
    """Whether an agency is visible to the staff member: any agency for a SystemAdmin, else their own."""
    return staff.active and (staff.role is Role.SYSTEM_ADMIN or staff.agency_id == agency_id)


def can_admin_agency(staff: StaffMember, agency_id: str) -> bool:
    """Whether the staff member may create and change the facilities of an agency."""
    if not staff.active:
        return False
    return staff.role is Role.SYSTEM_ADMIN or (staff.role is Role.AGENCY_ADMIN and staff.agency_id == agency_id)


def can_admin_facility(staff: StaffMember, facility: Location) -> bool:
    """Whether the staff member may change a facility's housing units and settings (its admins and above)."""
    return can_write_location(staff, facility)


def _may_give(staff: StaffMember, role: Role, agency_id: str | None, facility_id: str | None) -> bool:
    return covering_rank(staff, agency_id, facility_id) >= max(ROLE_RANK[role], _WRITER_RANK)


def can_grant(staff: StaffMember, grant: Grant) -> bool:
    """Whether the staff member may give (or take away) a grant: their own covering grant at its scope is at least
    its role, and FacilityAdmin or above (Educators grant nothing). A SystemAdmin grant only a SystemAdmin gives."""
    return _may_give(staff, grant.role, grant.agency_id, grant.facility_id)


def within_grant(staff: StaffMember, role: Role, agency_id: str | None, facility_ids: tuple[str, ...]) -> bool:
    """Whether a role and scope (v1: a role, an agency, facilities) is no more than the staff member has, facility
    by facility (the most anyone may grant)."""
    if role is Role.SYSTEM_ADMIN:
        return _may_give(staff, role, None, None)
    if role is Role.AGENCY_ADMIN:
        return _may_give(staff, role, agency_id, None)
    if not facility_ids:  # a scope of no facilities: within the grant of an admin of the agency
        need = max(ROLE_RANK[role], _WRITER_RANK)
        return staff.active and any(g.rank >= need and g.agency_id in (agency_id, None) for g in staff.grants)
    return all(_may_give(staff, role, agency_id, f) for f in facility_ids)


def within_grants(staff: StaffMember, other: StaffMember) -> bool:
    """Whether every grant another staff member holds is one the staff member could give."""
    if not other.grants:  # a record that covers nothing (incomplete, from before grants): its agency's admins'
        return covering_rank(staff, other.agency_id, None) >= ROLE_RANK[Role.AGENCY_ADMIN]
    return all(can_grant(staff, grant) for grant in other.grants)


def staff_in_scope(staff: StaffMember, other: StaffMember) -> bool:
    """Whether another staff member's scope lies within the staff member's own (whatever either's role): each of
    their grants' places is covered by one of the staff member's."""
    if not staff.active:
        return False
    if staff.role is Role.SYSTEM_ADMIN:
        return True
    if other.agency_id != staff.agency_id:
        return False
    return all(covering_rank(staff, g.agency_id, g.facility_id) > 0 for g in other.grants)


def outranks(staff: StaffMember, other: StaffMember) -> bool:
    """Whether the staff member is above another at every one of the other's grants: only a higher role changes a
    staff member.

    Peers never change each other (a FacilityAdmin cannot lock out the FacilityAdmin beside them, nor an AgencyAdmin
    another AgencyAdmin), nor anyone who is their peer or above at one facility. SystemAdmin is the top role, with no
    one above it: a SystemAdmin changes other SystemAdmins, so that a departed or compromised one can be disabled
    through the API at all.
    """
    if not staff.active:
        return False
    if staff.role is Role.SYSTEM_ADMIN:
        return True
    if not other.grants:  # a record that covers nothing: its v1 role
        return ROLE_RANK[staff.role] > ROLE_RANK[other.role]
    return all(covering_rank(staff, g.agency_id, g.facility_id) > g.rank for g in other.grants)


def can_manage_staff(staff: StaffMember, other: StaffMember) -> bool:
    """Whether the staff member may change, demote, disable or enable another's record: never their own, only of a
    lower role at each of their grants (see `outranks`), and only within what they could grant."""
    return staff.username != other.username and outranks(staff, other) and within_grants(staff, other)
