"""Facilities in scope and the bulk template of one facility."""

from __future__ import annotations

import csv
import io

from intake import authz
from intake.api_models import FacilityOut, HousingUnitOut
from intake.dal import directory
from intake.domain import Location, LocationKind, StaffMember
from intake.errors import NotFound
from intake.settings import get_settings

TEMPLATE_COLUMNS = ("requestId", "docID", "firstName", "lastName", "dateOfBirth", "role", "password", "locationId")


def list_facilities(requestor: StaffMember) -> list[FacilityOut]:
    """Facilities in the requestor's scope, each with its active housing units."""
    locations = directory.list_locations(None if requestor.agency_id is None else requestor.agency_id)
    visible = [loc for loc in locations if loc.active and authz.can_view_location(requestor, loc)]
    units: dict[str, list[HousingUnitOut]] = {}
    for loc in visible:
        if loc.kind is LocationKind.HOUSING_UNIT:
            units.setdefault(loc.facility_id, []).append(HousingUnitOut(location_id=loc.location_id, name=loc.name))
    return [
        FacilityOut(
            facility_id=loc.location_id,
            name=loc.name,
            agency_id=loc.agency_id,
            housing_units=sorted(units.get(loc.location_id, []), key=lambda unit: unit.name),
        )
        for loc in sorted(visible, key=lambda loc: loc.name)
        if loc.kind is LocationKind.FACILITY
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
