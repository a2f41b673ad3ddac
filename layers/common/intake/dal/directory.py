"""Agencies and locations (facilities and their housing units)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.operand import Path
from pynamodb.models import Model

from intake.dal.learners import roster_of
from intake.dal.storage_errors import is_condition_failure, storage_call
from intake.dal.tables import AgencyItem, LearnerItem, LocationItem, bind_tables
from intake.domain import Agency, LearnerStatus, Location, LocationKind, PasswordRule, UploadMode
from intake.errors import Conflict, NotFound

# A deleted location leaves this in its place, so that its id is never used again: a new facility or housing unit
# with the id of a deleted one would inherit its uploads, report links and audit trail. A tombstone has no agencyId,
# so the byAgency index (every listing of an agency's locations) never holds it; reads by id treat it as absent.
TOMBSTONE_KIND = "DELETED"


class _LocationTombstone(Model):
    """The item a deleted location leaves in LocationsTable (ids and time only: no name, no agencyId)."""

    class Meta:
        table_name = "unbound-locations"
        region: str | None = None

    locationId = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    deletedAt = UnicodeAttribute()
    formerKind = UnicodeAttribute()
    formerFacilityId = UnicodeAttribute()
    formerAgencyId = UnicodeAttribute()


def _bind_tombstones() -> None:
    bind_tables()
    meta = _LocationTombstone.Meta
    meta.table_name = LocationItem.Meta.table_name
    meta.region = getattr(LocationItem.Meta, "region", None)
    _LocationTombstone._connection = None  # deletes are rare: a fresh client follows any rebinding of the tables


def _is_tombstone(item: LocationItem) -> bool:
    return item.kind == TOMBSTONE_KIND


def _location(item: LocationItem) -> Location:
    return Location(
        location_id=item.locationId,
        name=item.name,
        agency_id=item.agencyId,
        facility_id=item.facilityId,
        kind=LocationKind(item.kind),
        active=bool(item.active),
        auto_confirm_drops=bool(item.autoConfirmDrops),
        password_rule=PasswordRule.model_validate(json.loads(item.passwordRule)) if item.passwordRule else None,
        max_upload_bytes=int(item.maxUploadBytes) if item.maxUploadBytes is not None else None,
        max_upload_rows=int(item.maxUploadRows) if item.maxUploadRows is not None else None,
        learner_access=item.learnerAccess is not False,  # missing: ON
        drop_mode=UploadMode(item.dropMode or UploadMode.CREATE.value),
        max_sync_deactivation_percent=int(item.maxSyncDeactivationPercent)
        if item.maxSyncDeactivationPercent is not None
        else None,
    )


def _location_item(location: Location) -> LocationItem:
    rule = location.password_rule
    return LocationItem(
        locationId=location.location_id,
        name=location.name,
        agencyId=location.agency_id,
        facilityId=location.facility_id,
        kind=location.kind.value,
        active=location.active,
        autoConfirmDrops=location.auto_confirm_drops,
        passwordRule=json.dumps(rule.to_json_dict(), separators=(",", ":")) if rule else None,
        maxUploadBytes=location.max_upload_bytes,
        maxUploadRows=location.max_upload_rows,
        learnerAccess=None if location.learner_access else False,
        dropMode=None if location.drop_mode is UploadMode.CREATE else location.drop_mode.value,
        maxSyncDeactivationPercent=location.max_sync_deactivation_percent,
    )


def put_agency(agency: Agency) -> Agency:
    """Create or replace an agency."""
    bind_tables()
    with storage_call("save the agency"):
        AgencyItem(agencyId=agency.agency_id, name=agency.name).save()
    return agency


def insert_agency(agency: Agency) -> Agency:
    """Create an agency; Conflict if the id is taken (checked atomically by DynamoDB)."""
    bind_tables()
    with storage_call("save the agency"):
        try:
            AgencyItem(agencyId=agency.agency_id, name=agency.name).save(condition=AgencyItem.agencyId.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            raise Conflict(f"Agency {agency.agency_id} already exists: choose another id") from exc
    return agency


def get_agency(agency_id: str) -> Agency | None:
    """One agency, or None."""
    if not agency_id:
        return None
    bind_tables()
    with storage_call("read the agency"):
        try:
            item = AgencyItem.get(agency_id, consistent_read=True)
        except AgencyItem.DoesNotExist:
            return None
    return Agency(agency_id=item.agencyId, name=item.name)


def rename_agency(agency_id: str, name: str) -> Agency:
    """Rename an existing agency; NotFound if there is none."""
    bind_tables()
    with storage_call("rename the agency"):
        try:
            AgencyItem(agencyId=agency_id).update(
                actions=[AgencyItem.name.set(name)], condition=AgencyItem.agencyId.exists()
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            raise NotFound("No such agency") from exc
    return Agency(agency_id=agency_id, name=name)


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
        _location_item(location).save()
    return location


def insert_location(location: Location) -> Location:
    """Create a location; Conflict if the id is taken by any location of any agency."""
    bind_tables()
    with storage_call("save the location"):
        try:
            _location_item(location).save(condition=LocationItem.locationId.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            if _was_deleted(location.location_id):
                raise Conflict(
                    f"Location id {location.location_id} was used before by a location that has been deleted: "
                    "ids are never reused (its uploads and audit trail keep it), choose another id"
                ) from exc
            raise Conflict(f"Location id {location.location_id} is already in use: choose another id") from exc
    return location


def _was_deleted(location_id: str) -> bool:
    """Whether the id belongs to a tombstone (read after a refused create, to say why it was refused)."""
    with storage_call("read the location"):
        try:
            return _is_tombstone(LocationItem.get(location_id, consistent_read=True))
        except LocationItem.DoesNotExist:
            return False


def update_location(location_id: str, **changes: Any) -> Location:
    """Set fields of an existing location (name, active, settings); NotFound if there is none."""
    bind_tables()
    names: dict[str, Any] = {
        "name": LocationItem.name,
        "active": LocationItem.active,
        "auto_confirm_drops": LocationItem.autoConfirmDrops,
        "password_rule": LocationItem.passwordRule,
        "max_upload_bytes": LocationItem.maxUploadBytes,
        "max_upload_rows": LocationItem.maxUploadRows,
        "learner_access": LocationItem.learnerAccess,
        "drop_mode": LocationItem.dropMode,
        "max_sync_deactivation_percent": LocationItem.maxSyncDeactivationPercent,
    }
    actions = []
    for field, value in changes.items():
        attribute = names[field]
        if isinstance(value, PasswordRule):
            value = json.dumps(value.to_json_dict(), separators=(",", ":"))
        if field == "learner_access":
            value = None if value else False  # ON is the default: stored as no attribute
        if field == "drop_mode":
            value = None if value in (None, UploadMode.CREATE) else UploadMode(value).value  # create: no attribute
        actions.append(attribute.remove() if value is None else attribute.set(value))
    item = LocationItem(locationId=location_id)
    with storage_call("update the location"):
        try:
            item.update(
                actions=actions,
                condition=LocationItem.locationId.exists() & (LocationItem.kind != TOMBSTONE_KIND),
            )
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
            raise NotFound("No such location") from exc
    return _location(item)


def delete_location(location: Location) -> None:
    """Delete a location that is still as the caller saw it (same facility, same kind), leaving a tombstone.

    One conditional put replaces the location by its tombstone: no read-then-write, and the id stays taken for good
    (insert_location's condition fails on it)."""
    _bind_tombstones()
    tombstone = _LocationTombstone(
        locationId=location.location_id,
        kind=TOMBSTONE_KIND,
        deletedAt=datetime.now(UTC).isoformat(timespec="seconds"),
        formerKind=location.kind.value,
        formerFacilityId=location.facility_id,
        formerAgencyId=location.agency_id,
    )
    condition = (_LocationTombstone.kind == location.kind.value) & (Path("facilityId") == location.facility_id)
    with storage_call("delete the location"):
        try:
            tombstone.save(condition=condition)
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            raise Conflict("The location changed meanwhile; reload it") from exc


def has_learners(location: Location) -> bool:
    """Whether any learner, active or inactive, is at this location (for a facility: anywhere in it)."""
    bind_tables()
    location_filter = None if location.kind is LocationKind.FACILITY else LearnerItem.locationId == location.location_id
    with storage_call("look for learners"):
        for status in LearnerStatus:
            items = LearnerItem.by_roster_doc_id.query(
                roster_of(location.facility_id, status), filter_condition=location_filter, limit=1
            )
            if next(iter(items), None) is not None:
                return True
    return False


def get_location(location_id: str) -> Location | None:
    """One location, or None."""
    if not location_id:
        return None
    bind_tables()
    with storage_call("read the location"):
        try:
            item = LocationItem.get(location_id)
        except LocationItem.DoesNotExist:
            return None
    return None if _is_tombstone(item) else _location(item)


def get_locations(location_ids: Iterable[str]) -> dict[str, Location]:
    """Several locations by id (batched reads); missing ids are absent from the result."""
    ids = sorted({i for i in location_ids if i})
    if not ids:
        return {}
    bind_tables()
    with storage_call("read locations"):
        items = list(LocationItem.batch_get(ids))
    return {item.locationId: _location(item) for item in items if not _is_tombstone(item)}


def list_locations(agency_id: str | None = None) -> list[Location]:
    """Every location of one agency, or of all agencies."""
    bind_tables()
    with storage_call("list locations"):
        if agency_id:
            items = list(LocationItem.by_agency.query(agency_id))
        else:
            items = list(LocationItem.scan(filter_condition=LocationItem.kind != TOMBSTONE_KIND))
    return sorted((_location(item) for item in items if not _is_tombstone(item)), key=lambda loc: loc.location_id)
