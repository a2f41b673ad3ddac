"""Agencies and locations (facilities and their housing units)."""

from __future__ import annotations

from collections.abc import Iterable

from intake.dal.storage_errors import storage_call
from intake.dal.tables import AgencyItem, LocationItem, bind_tables
from intake.domain import Agency, Location, LocationKind


def _location(item: LocationItem) -> Location:
    return Location(
        location_id=item.locationId,
        name=item.name,
        agency_id=item.agencyId,
        facility_id=item.facilityId,
        kind=LocationKind(item.kind),
        active=bool(item.active),
        auto_confirm_drops=bool(item.autoConfirmDrops),
    )


def put_agency(agency: Agency) -> Agency:
    """Create or replace an agency."""
    bind_tables()
    with storage_call("save the agency"):
        AgencyItem(agencyId=agency.agency_id, name=agency.name).save()
    return agency


def list_agencies() -> list[Agency]:
    """Every agency, by id."""
    bind_tables()
    with storage_call("list agencies"):
        items = list(AgencyItem.scan())
    return sorted((Agency(agency_id=i.agencyId, name=i.name) for i in items), key=lambda a: a.agency_id)


def put_location(location: Location) -> Location:
    """Create or replace a facility or housing unit."""
    bind_tables()
    with storage_call("save the location"):
        LocationItem(
            locationId=location.location_id,
            name=location.name,
            agencyId=location.agency_id,
            facilityId=location.facility_id,
            kind=location.kind.value,
            active=location.active,
            autoConfirmDrops=location.auto_confirm_drops,
        ).save()
    return location


def get_location(location_id: str) -> Location | None:
    """One location, or None."""
    if not location_id:
        return None
    bind_tables()
    with storage_call("read the location"):
        try:
            return _location(LocationItem.get(location_id))
        except LocationItem.DoesNotExist:
            return None


def get_locations(location_ids: Iterable[str]) -> dict[str, Location]:
    """Several locations by id (batched reads); missing ids are absent from the result."""
    ids = sorted({i for i in location_ids if i})
    if not ids:
        return {}
    bind_tables()
    with storage_call("read locations"):
        return {item.locationId: _location(item) for item in LocationItem.batch_get(ids)}


def list_locations(agency_id: str | None = None) -> list[Location]:
    """Every location of one agency, or of all agencies."""
    bind_tables()
    with storage_call("list locations"):
        items = LocationItem.by_agency.query(agency_id) if agency_id else LocationItem.scan()
        return sorted((_location(item) for item in items), key=lambda loc: loc.location_id)
