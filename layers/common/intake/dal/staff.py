"""Staff records: the role and scope of each Cognito user, which alone decide what they may do."""

from __future__ import annotations

from intake.dal.storage_errors import storage_call
from intake.dal.tables import StaffItem, bind_tables
from intake.domain import Role, StaffMember


def put_staff(staff: StaffMember) -> StaffMember:
    """Create or replace a staff record."""
    bind_tables()
    with storage_call("save the staff member"):
        StaffItem(
            username=staff.username,
            role=staff.role.value,
            agencyId=staff.agency_id,
            facilityIds=set(staff.facility_ids) or None,
            active=staff.active,
        ).save()
    return staff


def get_staff(username: str) -> StaffMember | None:
    """The staff record of a Cognito username, or None."""
    bind_tables()
    with storage_call("read the staff member"):
        try:
            item = StaffItem.get(username)
        except StaffItem.DoesNotExist:
            return None
    return StaffMember(
        username=item.username,
        role=Role(item.role),
        agency_id=item.agencyId,
        facility_ids=tuple(sorted(item.facilityIds or ())),
        active=bool(item.active),
    )
