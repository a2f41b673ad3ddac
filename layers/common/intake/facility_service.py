"""Facilities in scope and the bulk template of one facility."""

from __future__ import annotations

import csv
import io

from intake import authz
from intake.dal import directory
from intake.domain import Location, LocationKind, Role, StaffMember
from intake.errors import NotFound
from intake.settings import get_settings

TEMPLATE_COLUMNS = ("requestId", "docID", "firstName", "lastName", "dateOfBirth", "role", "password", "locationId")


def list_facilities(requestor: StaffMember) -> list[tuple[Location, list[Location]]]:
    """Facilities in the requestor's scope, by name, each with its active housing units, by name."""
    locations = directory.list_locations(None if requestor.agency_id is None else requestor.agency_id)
    visible = [loc for loc in locations if loc.active and authz.can_view_location(requestor, loc)]
    return facilities_with_units(visible)


def role_at(requestor: StaffMember, facility: Location) -> Role | None:
    """The requestor's role at a facility: that of their highest grant covering it (what the API decides by)."""
    return authz.covering_role(requestor, facility.agency_id, facility.facility_id)


def facilities_with_units(locations: list[Location]) -> list[tuple[Location, list[Location]]]:
    """Each facility among `locations`, by name, with its housing units among them, by name."""
    units: dict[str, list[Location]] = {}
    for loc in locations:
        if loc.kind is LocationKind.HOUSING_UNIT:
            units.setdefault(loc.facility_id, []).append(loc)
    facilities = sorted((loc for loc in locations if loc.kind is LocationKind.FACILITY), key=lambda loc: loc.name)
    return [
        (facility, sorted(units.get(facility.location_id, []), key=lambda unit: unit.name)) for facility in facilities
    ]


def get_facility(requestor: StaffMember, facility_id: str) -> Location:
    """A facility the requestor may see; NotFound otherwise."""
    facility = directory.get_location(facility_id)
    if (
        facility is None
        or facility.kind is not LocationKind.FACILITY
        or not authz.can_view_location(requestor, facility)
    ):
        raise NotFound("No such facility")
    return facility


def template_csv(requestor: StaffMember, facility_id: str) -> str:
    """The bulk template of a facility: the header and a first row with role and locationId filled in."""
    facility = get_facility(requestor, facility_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATE_COLUMNS)
    writer.writerow(["1", "", "", "", "", "Learner", "", facility.location_id])
    return out.getvalue()


def upload_limits(facility: Location | None) -> tuple[int, int]:
    """The (bytes, rows) an upload of the facility may have: its own limits, never above the system's."""
    system = get_settings()
    if facility is None:
        return system.max_upload_bytes, system.max_upload_rows
    return (
        min(facility.max_upload_bytes or system.max_upload_bytes, system.max_upload_bytes),
        min(facility.max_upload_rows or system.max_upload_rows, system.max_upload_rows),
    )
