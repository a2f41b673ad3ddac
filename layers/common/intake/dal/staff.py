"""Staff records: the grants (role per scope) of each Cognito user, which alone decide what they may do."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from intake.dal.storage_errors import is_condition_failure, storage_call
from intake.dal.tables import GrantAttribute, StaffItem, bind_tables
from intake.domain import Grant, Role, StaffMember
from intake.errors import Conflict


def _item(staff: StaffMember) -> StaffItem:
    return StaffItem(
        username=staff.username,
        role=staff.role.value,
        agencyId=staff.agency_id,
        facilityIds=set(staff.facility_ids) or None,
        active=staff.active,
        grants=[GrantAttribute(role=g.role.value, agencyId=g.agency_id, facilityId=g.facility_id) for g in staff.grants]
        or None,
        title=staff.title,
        firstName=staff.first_name,
        lastName=staff.last_name,
        displayFirstName=staff.display_first_name,
        displayLastName=staff.display_last_name,
        email=staff.email,
        version=staff.version,
    )


def _staff(item: StaffItem) -> StaffMember:
    """The staff member an item holds; an item written before grants (v1) upgrades to the grants its role, agency
    and facilities give."""
    details = {
        "username": item.username,
        "active": bool(item.active),
        "title": item.title,
        "first_name": item.firstName,
        "last_name": item.lastName,
        "display_first_name": item.displayFirstName,
        "display_last_name": item.displayLastName,
        "email": item.email,
        "version": int(item.version or 0),
    }
    if item.grants:
        grants = tuple(Grant(role=Role(g.role), agency_id=g.agencyId, facility_id=g.facilityId) for g in item.grants)
        return StaffMember(grants=grants, **details)
    return StaffMember(
        role=Role(item.role),
        agency_id=item.agencyId,
        facility_ids=tuple(sorted(item.facilityIds or ())),
        **details,
    )


def put_staff(staff: StaffMember) -> StaffMember:
    """Create or replace a staff record, unconditionally (seeding and tools; the API uses `replace_staff`)."""
    bind_tables()
    with storage_call("save the staff member"):
        _item(staff).save()
    return staff


def insert_staff(staff: StaffMember) -> StaffMember:
    """Create a staff record; Conflict if the username has one."""
    bind_tables()
    with storage_call("save the staff member"):
        try:
            _item(staff).save(condition=StaffItem.username.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            raise Conflict(f"Staff member {staff.username} already exists") from exc
    return staff


def replace_staff(before: StaffMember, after: StaffMember) -> StaffMember:
    """Write a changed staff record if it is still at the version the caller read (no lost update), at the next
    version. An item written before versions is at version 0. Its role and active flag are checked too, for writers
    that do not know versions."""
    bind_tables()
    version = StaffItem.version == before.version
    if before.version == 0:
        version = StaffItem.version.does_not_exist() | version
    condition = version & (StaffItem.role == before.role.value) & (StaffItem.active == before.active)
    after = after.model_copy(update={"version": before.version + 1})
    with storage_call("save the staff member"):
        try:
            _item(after).save(condition=condition)
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            raise Conflict("The staff member was changed by someone else meanwhile; reload and try again") from exc
    return after


def get_staff(username: str) -> StaffMember | None:
    """The staff record of a Cognito username, or None."""
    bind_tables()
    with storage_call("read the staff member"):
        try:
            item = StaffItem.get(username, consistent_read=True)
        except StaffItem.DoesNotExist:
            return None
    return _staff(item)


def list_staff() -> list[StaffMember]:
    """Every staff record, by username (staff tables hold hundreds of records, not millions)."""
    bind_tables()
    with storage_call("list staff"):
        return sorted((_staff(item) for item in StaffItem.scan()), key=lambda s: s.username)


def delete_staff(username: str) -> None:
    """Remove a staff record (undoing an invitation whose login could not be created)."""
    bind_tables()
    with storage_call("remove the staff member"):
        StaffItem(username=username).delete()
