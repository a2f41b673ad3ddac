"""Authorization: who may see and change what, decided in this one place."""

from __future__ import annotations

from intake.domain import Learner, Location, Role, StaffMember
from intake.errors import CREATE_DENIED_MESSAGE, NotFound, PermissionDenied

_WRITERS = frozenset({Role.SYSTEM_ADMIN, Role.AGENCY_ADMIN, Role.FACILITY_ADMIN})


def in_scope(staff: StaffMember, agency_id: str, facility_id: str) -> bool:
    """Whether a facility (and so its housing units) lies in the staff member's scope."""
    if not staff.active:
        return False
    if staff.role is Role.SYSTEM_ADMIN:
        return True
    if staff.role is Role.AGENCY_ADMIN:
        return staff.agency_id == agency_id
    return staff.agency_id == agency_id and facility_id in staff.facility_ids


def can_view_location(staff: StaffMember, location: Location) -> bool:
    """Whether the staff member may see a location, its template and its uploads."""
    return in_scope(staff, location.agency_id, location.facility_id)


def can_write_location(staff: StaffMember, location: Location) -> bool:
    """Whether the staff member may create learners in, or move learners into, a location."""
    return staff.role in _WRITERS and in_scope(staff, location.agency_id, location.facility_id)


def can_view_learner(staff: StaffMember, learner: Learner) -> bool:
    """Admins see every learner of their agency (to find arrivals to move); educators only those in scope."""
    if not staff.active:
        return False
    if staff.role is Role.SYSTEM_ADMIN:
        return True
    if staff.role is Role.EDUCATOR:
        return in_scope(staff, learner.agency_id, learner.facility_id)
    return staff.agency_id == learner.agency_id


def can_write_learner(staff: StaffMember, learner: Learner) -> bool:
    """Whether the staff member may change a learner (edit, status, password): a writer in the learner's facility."""
    return staff.role in _WRITERS and in_scope(staff, learner.agency_id, learner.facility_id)


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

_RANK = {Role.EDUCATOR: 1, Role.FACILITY_ADMIN: 2, Role.AGENCY_ADMIN: 3, Role.SYSTEM_ADMIN: 4}


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


def within_grant(staff: StaffMember, role: Role, agency_id: str | None, facility_ids: tuple[str, ...]) -> bool:
    """Whether a role and scope is no more than the staff member has (the most anyone may grant)."""
    if not staff.active or staff.role is Role.EDUCATOR or _RANK[role] > _RANK[staff.role]:
        return False
    if staff.role is Role.SYSTEM_ADMIN:
        return True
    if agency_id != staff.agency_id:
        return False
    if staff.role is Role.AGENCY_ADMIN:
        return True
    return role in (Role.FACILITY_ADMIN, Role.EDUCATOR) and set(facility_ids) <= set(staff.facility_ids)


def staff_in_scope(staff: StaffMember, other: StaffMember) -> bool:
    """Whether another staff member's scope lies within the staff member's own (whatever either's role)."""
    if not staff.active:
        return False
    if staff.role is Role.SYSTEM_ADMIN:
        return True
    if other.role is Role.SYSTEM_ADMIN or other.agency_id != staff.agency_id:
        return False
    if staff.role is Role.AGENCY_ADMIN:
        return True
    return other.role is not Role.AGENCY_ADMIN and set(other.facility_ids) <= set(staff.facility_ids)


def outranks(staff: StaffMember, other: StaffMember) -> bool:
    """Whether the staff member's role is above another's: only a higher role changes a staff member.

    Peers never change each other (a FacilityAdmin cannot lock out the FacilityAdmin beside them, nor an AgencyAdmin
    another AgencyAdmin). SystemAdmin is the top role, with no one above it: a SystemAdmin changes other SystemAdmins,
    so that a departed or compromised one can be disabled through the API at all.
    """
    return staff.active and (staff.role is Role.SYSTEM_ADMIN or _RANK[staff.role] > _RANK[other.role])


def can_manage_staff(staff: StaffMember, other: StaffMember) -> bool:
    """Whether the staff member may change, demote, disable or enable another's record: never their own, only of a
    lower role (see `outranks`), and only within what they could grant."""
    return (
        staff.username != other.username
        and outranks(staff, other)
        and within_grant(staff, other.role, other.agency_id, other.facility_ids)
    )
