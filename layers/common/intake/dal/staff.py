"""Staff records: the role and scope of each Cognito user, which alone decide what they may do."""

from __future__ import annotations

from pynamodb.exceptions import PutError

from intake.dal.storage_errors import is_condition_failure, storage_call
from intake.dal.tables import StaffItem, bind_tables
from intake.domain import Role, StaffMember
from intake.errors import Conflict


def _item(staff: StaffMember) -> StaffItem:
    return StaffItem(
        username=staff.username,
        role=staff.role.value,
        agencyId=staff.agency_id,
        facilityIds=set(staff.facility_ids) or None,
        active=staff.active,
    )


def _staff(item: StaffItem) -> StaffMember:
    return StaffMember(
        username=item.username,
        role=Role(item.role),
        agency_id=item.agencyId,
        facility_ids=tuple(sorted(item.facilityIds or ())),
        active=bool(item.active),
    )


def put_staff(staff: StaffMember) -> StaffMember:
    """Create or replace a staff record."""
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
    """Write a changed staff record if it is still as the caller read it (no lost update)."""
    bind_tables()
    condition = (StaffItem.role == before.role.value) & (StaffItem.active == before.active)
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
