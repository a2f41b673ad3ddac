"""Administration: agencies, facilities and housing units, facility settings and staff, each change audited."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass

from intake import audit, authz, facility_access, password_rules, passwords
from intake.admin_models import (
    AdminFacilityOut,
    ChangeStaffRequest,
    CreateAgencyRequest,
    CreateFacilityRequest,
    CreateHousingUnitRequest,
    FacilitySettingsOut,
    FacilitySettingsRequest,
    GrantChangeRequest,
    InviteStaffRequest,
    LocationOut,
)
from intake.dal import directory, users
from intake.dal import staff as staff_store
from intake.domain import (
    DEFAULT_MAX_SYNC_DEACTIVATION_PERCENT,
    Agency,
    Grant,
    Location,
    LocationKind,
    PasswordRule,
    Role,
    StaffMember,
    UploadMode,
)
from intake.errors import Conflict, FieldError, IntakeError, NotFound, PermissionDenied, ValidationFailed
from intake.facility_service import facilities_with_units, get_facility, upload_limits
from intake.observability import logger
from intake.settings import get_settings

GRANT_DENIED = "Requestor may not grant this role or scope: no one can grant more than they have"
_SLUG = re.compile(r"[^a-z0-9]+")


def new_id(name: str) -> str:
    """An id made from a name and a random suffix, e.g. `cedar-creek-3f9a1c`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    stem = _SLUG.sub("-", ascii_name).strip("-")[:40].strip("-") or "loc"
    return f"{stem}-{secrets.token_hex(3)}"


# ------------------------------------------------------------------ agencies


def _require_system_admin(requestor: StaffMember, agency_id: str | None = None) -> None:
    if agency_id is not None and not authz.can_view_agency(requestor, agency_id):
        raise NotFound("No such agency")  # another agency answers like one that does not exist
    if requestor.role is not Role.SYSTEM_ADMIN:
        raise PermissionDenied("Only a SystemAdmin may create or rename agencies")


def create_agency(requestor: StaffMember, request: CreateAgencyRequest) -> Agency:
    """A new agency (SystemAdmin); Conflict if the id is taken."""
    _require_system_admin(requestor)
    agency = directory.insert_agency(
        Agency(agency_id=request.agencyId or new_id(request.name), name=request.name.strip())
    )
    audit.record(
        requestor.username,
        "AGENCY_CREATED",
        "agency",
        agency.agency_id,
        scopes=[audit.agency_scope(agency.agency_id)],
        agency_id=agency.agency_id,
    )
    return agency


def rename_agency(requestor: StaffMember, agency_id: str, name: str) -> Agency:
    """Rename an agency (SystemAdmin)."""
    _require_system_admin(requestor, agency_id)
    agency = directory.rename_agency(agency_id, name.strip())
    audit.record(
        requestor.username,
        "AGENCY_RENAMED",
        "agency",
        agency_id,
        scopes=[audit.agency_scope(agency_id)],
        agency_id=agency_id,
    )
    return agency


def list_agencies(requestor: StaffMember) -> list[Agency]:
    """Every agency for a SystemAdmin; the requestor's own agency for anyone else."""
    agencies = directory.list_agencies()
    if requestor.role is Role.SYSTEM_ADMIN:
        return agencies
    return [agency for agency in agencies if agency.agency_id == requestor.agency_id]


# ------------------------------------------------------------------ locations


def location_out(location: Location) -> LocationOut:
    return LocationOut(
        location_id=location.location_id,
        name=location.name,
        agency_id=location.agency_id,
        facility_id=location.facility_id,
        kind=location.kind.value,
        active=location.active,
    )


def _visible_location(requestor: StaffMember, location_id: str) -> Location:
    location = directory.get_location(location_id)
    if location is None or not authz.can_view_location(requestor, location):
        raise NotFound("No such location")
    return location


def _require_location_admin(requestor: StaffMember, location: Location) -> None:
    """Facilities are changed by their agency's admins; housing units also by their facility's admins."""
    allowed = (
        authz.can_admin_agency(requestor, location.agency_id)
        if location.kind is LocationKind.FACILITY
        else authz.can_admin_facility(requestor, location)
    )
    if not allowed:
        raise PermissionDenied("Requestor does not have permission to change this location")


def create_facility(requestor: StaffMember, request: CreateFacilityRequest) -> Location:
    """A new facility of an agency (its AgencyAdmin or a SystemAdmin)."""
    if not authz.can_view_agency(requestor, request.agencyId) or directory.get_agency(request.agencyId) is None:
        raise NotFound("No such agency")
    if not authz.can_admin_agency(requestor, request.agencyId):
        raise PermissionDenied("Requestor does not have permission to create facilities in this agency")
    facility_id = request.facilityId or new_id(request.name)
    facility = directory.insert_location(
        Location(
            location_id=facility_id,
            name=request.name.strip(),
            agency_id=request.agencyId,
            facility_id=facility_id,
            kind=LocationKind.FACILITY,
        )
    )
    _audit_location(requestor, "FACILITY_CREATED", facility)
    return facility


def create_housing_unit(requestor: StaffMember, facility_id: str, request: CreateHousingUnitRequest) -> Location:
    """A new housing unit of a facility (its admins, its agency's, or a SystemAdmin)."""
    facility = get_facility(requestor, facility_id)
    if not authz.can_admin_facility(requestor, facility):
        raise PermissionDenied("Requestor does not have permission to add housing units to this facility")
    if not facility.active:
        raise Conflict("This facility is deactivated: reactivate it before adding housing units")
    unit = directory.insert_location(
        Location(
            location_id=request.locationId or new_id(request.name),
            name=request.name.strip(),
            agency_id=facility.agency_id,
            facility_id=facility.location_id,
            kind=LocationKind.HOUSING_UNIT,
        )
    )
    _audit_location(requestor, "HOUSING_UNIT_CREATED", unit)
    return unit


def rename_location(requestor: StaffMember, location_id: str, name: str) -> Location:
    """Rename a facility or housing unit."""
    location = _visible_location(requestor, location_id)
    _require_location_admin(requestor, location)
    renamed = directory.update_location(location.location_id, name=name.strip())
    _audit_location(requestor, "LOCATION_RENAMED", renamed)
    return renamed


def set_location_active(requestor: StaffMember, location_id: str, active: bool) -> Location:
    """(De)activate a location; a deactivated one takes no new learners. Deactivating a facility closes its units."""
    location = _visible_location(requestor, location_id)
    _require_location_admin(requestor, location)
    changed = directory.update_location(location.location_id, active=active)
    _audit_location(requestor, "LOCATION_ACTIVATED" if active else "LOCATION_DEACTIVATED", changed)
    if location.kind is LocationKind.FACILITY and not active:
        for unit in directory.list_locations(location.agency_id):
            if unit.facility_id == location.location_id and unit.kind is LocationKind.HOUSING_UNIT and unit.active:
                _audit_location(
                    requestor, "LOCATION_DEACTIVATED", directory.update_location(unit.location_id, active=False)
                )
    return changed


def delete_location(requestor: StaffMember, location_id: str) -> None:
    """Delete an empty location; one with learners (or a facility with housing units) can only be deactivated."""
    location = _visible_location(requestor, location_id)
    _require_location_admin(requestor, location)
    if directory.has_learners(location):
        raise Conflict("This location has learners and cannot be deleted: deactivate it instead")
    if location.kind is LocationKind.FACILITY and any(
        other.facility_id == location.location_id and other.kind is LocationKind.HOUSING_UNIT
        for other in directory.list_locations(location.agency_id)
    ):
        raise Conflict("This facility has housing units: delete or deactivate them first")
    directory.delete_location(location)
    _audit_location(requestor, "LOCATION_DELETED", location)


def list_agency_locations(requestor: StaffMember, agency_id: str) -> list[AdminFacilityOut]:
    """Every facility and housing unit of an agency the requestor may see, deactivated ones included."""
    if not authz.can_view_agency(requestor, agency_id) or directory.get_agency(agency_id) is None:
        raise NotFound("No such agency")
    visible = [loc for loc in directory.list_locations(agency_id) if authz.can_view_location(requestor, loc)]
    return [
        AdminFacilityOut(
            facility_id=facility.location_id,
            name=facility.name,
            agency_id=facility.agency_id,
            active=facility.active,
            housing_units=[location_out(unit) for unit in units],
        )
        for facility, units in facilities_with_units(visible)
    ]


def _audit_location(requestor: StaffMember, action: str, location: Location, details: dict | None = None) -> None:
    audit.record(
        requestor.username,
        action,
        location.kind.value.lower(),
        location.location_id,
        scopes=audit.location_scopes(location),
        agency_id=location.agency_id,
        facility_id=location.facility_id,
        details=details,
    )


# ------------------------------------------------------------------ facility settings


def settings_view(facility: Location) -> FacilitySettingsOut:
    """A facility's settings with the system's limits they live within."""
    system = get_settings()
    max_bytes, max_rows = upload_limits(facility)
    return FacilitySettingsOut(
        facility_id=facility.location_id,
        auto_confirm_drops=facility.auto_confirm_drops,
        password_rule=facility.password_rule.to_json_dict() if facility.password_rule else None,
        max_upload_bytes=max_bytes,
        max_upload_rows=max_rows,
        system_max_upload_bytes=system.max_upload_bytes,
        system_max_upload_rows=system.max_upload_rows,
        learner_access="ON" if facility.learner_access else "OFF",
        drop_mode=facility.drop_mode.value,
        max_sync_deactivation_percent=DEFAULT_MAX_SYNC_DEACTIVATION_PERCENT
        if facility.max_sync_deactivation_percent is None
        else facility.max_sync_deactivation_percent,
    )


def get_facility_settings(requestor: StaffMember, facility_id: str) -> FacilitySettingsOut:
    """The settings of a facility the requestor may see."""
    return settings_view(get_facility(requestor, facility_id))


def _setting_changes(request: FacilitySettingsRequest, sent: set[str], rule: PasswordRule | None) -> dict[str, object]:
    """The location fields to write for the settings sent (None resets one to the system's default)."""
    values: dict[str, tuple[str, object]] = {
        "autoConfirmDrops": ("auto_confirm_drops", bool(request.autoConfirmDrops)),
        "passwordRule": ("password_rule", rule),
        "maxUploadBytes": ("max_upload_bytes", request.maxUploadBytes),
        "maxUploadRows": ("max_upload_rows", request.maxUploadRows),
        "learnerAccess": ("learner_access", request.learnerAccess != "OFF"),
        "dropMode": ("drop_mode", UploadMode(request.dropMode or UploadMode.CREATE.value)),
        "maxSyncDeactivationPercent": ("max_sync_deactivation_percent", request.maxSyncDeactivationPercent),
    }
    return {field: value for name, (field, value) in values.items() if name in sent}


def update_facility_settings(
    requestor: StaffMember, facility_id: str, request: FacilitySettingsRequest
) -> FacilitySettingsOut:
    """Change the settings sent (the facility's admins and above); limits stay within the system's."""
    facility = get_facility(requestor, facility_id)
    if not authz.can_admin_facility(requestor, facility):
        raise PermissionDenied("Requestor does not have permission to change this facility's settings")
    system = get_settings()
    sent = request.model_fields_set
    problems = []
    if request.maxUploadBytes is not None and request.maxUploadBytes > system.max_upload_bytes:
        problems.append(
            FieldError("maxUploadBytes", "INVALID_VALUE", f"maxUploadBytes may be at most {system.max_upload_bytes}")
        )
    if request.maxUploadRows is not None and request.maxUploadRows > system.max_upload_rows:
        problems.append(
            FieldError("maxUploadRows", "INVALID_VALUE", f"maxUploadRows may be at most {system.max_upload_rows}")
        )
    rule = None
    if request.passwordRule is not None:
        rule = PasswordRule(
            min_length=request.passwordRule.minLength,
            required_classes=tuple(dict.fromkeys(request.passwordRule.requiredClasses)),
            blank_format=(request.passwordRule.blankFormat or "").strip() or None,
        )
        # The format's every output must meet the facility's own rule and the strength floor (random part).
        if (problem := password_rules.format_problem(rule)) is not None:
            problems.append(FieldError("passwordRule.blankFormat", "INVALID_VALUE", problem))
    if problems:
        raise ValidationFailed(problems)
    changes = _setting_changes(request, sent, rule)
    if not changes:
        return settings_view(facility)
    updated = directory.update_location(facility.location_id, **changes)
    if "learner_access" in changes:  # sign-ins through this sandbox see the change at once, not after the cache's TTL
        facility_access.forget(facility.location_id)
    _audit_location(requestor, "FACILITY_SETTINGS_CHANGED", updated, {"fields": ",".join(sorted(sent))})
    return settings_view(updated)


# ------------------------------------------------------------------ staff


@dataclass(frozen=True)
class InvitedStaff:
    staff: StaffMember
    temporary_password: str


def temporary_password() -> str:
    """A readable temporary password meeting the pool's policy (12+ characters, upper, lower, digit, symbol)."""
    generated = passwords.generate_password()
    return generated[0].upper() + generated[1:]


def _checked_grant(
    requestor: StaffMember, username: str, role: Role, agency_id: str | None, facility_ids: list[str]
) -> StaffMember:
    """The staff record a grant describes, if it is well-formed, refers to real places and is within the requestor's."""
    facilities = tuple(sorted(set(facility_ids)))
    if role is Role.SYSTEM_ADMIN and (agency_id or facilities):
        raise ValidationFailed([FieldError("agencyId", "INVALID_VALUE", "A SystemAdmin has no agency or facilities")])
    if role is not Role.SYSTEM_ADMIN and not agency_id:
        raise ValidationFailed([FieldError("agencyId", "REQUIRED", f"A {role.value} needs the agencyId of its agency")])
    if role is Role.AGENCY_ADMIN and facilities:
        raise ValidationFailed(
            [FieldError("facilityIds", "INVALID_VALUE", "An AgencyAdmin covers its whole agency: send no facilityIds")]
        )
    if role in (Role.FACILITY_ADMIN, Role.EDUCATOR) and not facilities:
        raise ValidationFailed([FieldError("facilityIds", "REQUIRED", f"A {role.value} needs at least one facilityId")])
    if not authz.within_grant(requestor, role, agency_id, facilities):
        raise PermissionDenied(GRANT_DENIED)
    if agency_id and directory.get_agency(agency_id) is None:
        raise ValidationFailed([FieldError("agencyId", "INVALID_VALUE", f"There is no agency {agency_id}")])
    found = directory.get_locations(facilities)
    wrong = [
        f
        for f in facilities
        if f not in found or found[f].kind is not LocationKind.FACILITY or found[f].agency_id != agency_id
    ]
    if wrong:
        raise ValidationFailed(
            [FieldError("facilityIds", "INVALID_VALUE", f"Not facilities of agency {agency_id}: {', '.join(wrong)}")]
        )
    return StaffMember(username=username, role=role, agency_id=agency_id, facility_ids=facilities)


def _audit_staff(requestor: StaffMember, action: str, member: StaffMember, previous: StaffMember | None = None) -> None:
    scopes = list(member.facility_ids) + (list(previous.facility_ids) if previous else [])
    if not scopes:
        scopes = [audit.agency_scope(member.agency_id) if member.agency_id else audit.SYSTEM_SCOPE]
    details: dict = {"role": member.role.value, "facilityIds": ",".join(member.facility_ids), "active": member.active}
    if previous is not None:
        details |= {"previousRole": previous.role.value, "previousFacilityIds": ",".join(previous.facility_ids)}
    audit.record(
        requestor.username, action, "staff", member.username, scopes=scopes, agency_id=member.agency_id, details=details
    )


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def invite_staff(requestor: StaffMember, request: InviteStaffRequest) -> InvitedStaff:
    """A staff record and a Cognito login with a temporary password, within the requestor's own grant."""
    member = _checked_grant(
        requestor, request.username, request.role, request.agencyId, request.facilityIds
    ).model_copy(
        update={
            "title": _text(request.title),
            "first_name": _text(request.firstName),
            "last_name": _text(request.lastName),
            "display_first_name": _text(request.displayFirstName),
            "display_last_name": _text(request.displayLastName),
            "email": request.email,
        }
    )
    staff_store.insert_staff(member)
    password = temporary_password()
    try:
        users.create_login(member.username, password, request.email)
    except IntakeError:
        staff_store.delete_staff(member.username)  # no half-invited staff: the caller may simply retry
        raise
    _audit_staff(requestor, "STAFF_INVITED", member)
    logger.info("staff invited", extra={"username": member.username, "role": member.role.value})
    return InvitedStaff(staff=member, temporary_password=password)


def _managed(requestor: StaffMember, username: str) -> StaffMember:
    if username == requestor.username:
        raise PermissionDenied("No one may change their own role, scope or access: ask another administrator")
    target = staff_store.get_staff(username)
    if target is None or not authz.staff_in_scope(requestor, target):
        raise NotFound("No such staff member")
    if not authz.can_manage_staff(requestor, target):
        raise PermissionDenied("Requestor does not have permission to change this staff member")
    return target


def change_staff(requestor: StaffMember, username: str, request: ChangeStaffRequest) -> StaffMember:
    """A new role or scope for someone within the requestor's grant, never beyond it."""
    target = _managed(requestor, username)
    wanted = _checked_grant(requestor, username, request.role, request.agencyId, request.facilityIds)
    scope = {"role": wanted.role, "agency_id": wanted.agency_id, "facility_ids": wanted.facility_ids}
    changed = staff_store.replace_staff(target, target.model_copy(update=scope))  # all grants replaced
    _audit_staff(requestor, "STAFF_CHANGED", changed, target)
    return changed


def _requested_grant(requestor: StaffMember, target: StaffMember, request: GrantChangeRequest) -> Grant:
    """The grant a request names, in the target's agency, if well-formed and within the requestor's own grants."""
    if request.role is Role.SYSTEM_ADMIN:
        raise ValidationFailed(
            [
                FieldError(
                    "role", "INVALID_VALUE", "A SystemAdmin grant stands alone: set it with /staff/{username}/scope"
                )
            ]
        )
    if target.agency_id is None:
        raise Conflict(f"{target.username} has no agency to add grants in: set their role and scope with /scope")
    if request.role is Role.AGENCY_ADMIN and request.facilityId:
        raise ValidationFailed(
            [FieldError("facilityId", "INVALID_VALUE", "An AgencyAdmin covers its whole agency: send no facilityId")]
        )
    if request.role is not Role.AGENCY_ADMIN and not request.facilityId:
        raise ValidationFailed(
            [FieldError("facilityId", "REQUIRED", f"A {request.role.value} grant needs a facilityId")]
        )
    grant = Grant(role=request.role, agency_id=target.agency_id, facility_id=request.facilityId)
    if not authz.can_grant(requestor, grant):
        raise PermissionDenied(GRANT_DENIED)
    return grant


def _audit_grant(requestor: StaffMember, action: str, member: StaffMember, grant: Grant) -> None:
    scope = grant.facility_id or audit.agency_scope(str(grant.agency_id))  # an AgencyAdmin grant: its agency
    details: dict = {"role": grant.role.value, "facilityId": grant.facility_id or "", "version": member.version}
    audit.record(
        requestor.username,
        action,
        "staff",
        member.username,
        scopes=[scope],
        agency_id=member.agency_id,
        facility_id=grant.facility_id,
        details=details,
    )


def add_grant(requestor: StaffMember, username: str, request: GrantChangeRequest) -> StaffMember:
    """One more grant (a role at a facility, or AgencyAdmin) for someone the requestor manages, in their agency."""
    target = _managed(requestor, username)
    grant = _requested_grant(requestor, target, request)
    if grant in target.grants:
        raise Conflict(f"{username} already holds {grant.role.value} at {grant.facility_id or grant.agency_id}")
    if grant.facility_id is not None:
        found = directory.get_location(grant.facility_id)
        if found is None or found.kind is not LocationKind.FACILITY or found.agency_id != grant.agency_id:
            raise ValidationFailed(
                [
                    FieldError(
                        "facilityId",
                        "INVALID_VALUE",
                        f"Not a facility of agency {grant.agency_id}: {grant.facility_id}",
                    )
                ]
            )
    changed = staff_store.replace_staff(target, target.model_copy(update={"grants": (*target.grants, grant)}))
    _audit_grant(requestor, "STAFF_GRANT_ADDED", changed, grant)
    return changed


def remove_grant(requestor: StaffMember, username: str, request: GrantChangeRequest) -> StaffMember:
    """Take one grant from someone the requestor manages; the last one is never removed (disable them instead)."""
    target = _managed(requestor, username)
    grant = _requested_grant(requestor, target, request)
    if grant not in target.grants:
        raise NotFound(f"{username} does not hold {grant.role.value} at {grant.facility_id or grant.agency_id}")
    if len(target.grants) == 1:
        raise Conflict("This is the staff member's last grant: disable the staff member instead of removing it")
    kept = tuple(g for g in target.grants if g != grant)
    changed = staff_store.replace_staff(target, target.model_copy(update={"grants": kept}))
    _audit_grant(requestor, "STAFF_GRANT_REMOVED", changed, grant)
    return changed


def set_staff_active(requestor: StaffMember, username: str, active: bool) -> StaffMember:
    """Disable (or enable again) a staff member's access: the record and the login."""
    target = _managed(requestor, username)
    changed = staff_store.replace_staff(target, target.model_copy(update={"active": active}))
    users.set_login_enabled(username, active)
    _audit_staff(requestor, "STAFF_ENABLED" if active else "STAFF_DISABLED", changed)
    return changed


def list_staff(requestor: StaffMember) -> list[StaffMember]:
    """The staff members the requestor could have granted (and themself)."""
    if requestor.role is Role.EDUCATOR:
        raise PermissionDenied("Requestor does not have permission to list staff")
    return [
        member
        for member in staff_store.list_staff()
        if member.username == requestor.username or authz.within_grants(requestor, member)
    ]
