"""What SCIM keeps on a staff record (the resource as sent, a DELETE, a held deactivation), and the held
deactivations an agency's administrators list, release or discard. Free of scim2-models: the staff API's /agencies
routes load this, not the SCIM machinery (intake.scim_service)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from intake import admin_service, audit, authz
from intake.clock import utc_now
from intake.dal import directory
from intake.dal import staff as staff_store
from intake.domain import StaffMember
from intake.errors import NotFound, PermissionDenied

# ------------------------------------------------------------------ the record kept for SCIM


@dataclass(frozen=True)
class ScimRecord:
    """What SCIM keeps on a staff record: the resource as sent (no password), whether it was DELETEd, a held
    deactivation, and when it was made and last changed."""

    resource: dict[str, Any]
    created: str
    modified: str
    deleted: bool = False
    hold: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "resource": self.resource,
                "created": self.created,
                "modified": self.modified,
                "deleted": self.deleted,
                "hold": self.hold,
            },
            separators=(",", ":"),
        )

    def changed(self, **fields: Any) -> ScimRecord:
        values: dict[str, Any] = {
            "resource": self.resource,
            "created": self.created,
            "modified": now_text(),
            "deleted": self.deleted,
            "hold": self.hold,
        }
        return ScimRecord(**(values | fields))


def now_text() -> str:
    return utc_now().isoformat()


def record_of(member: StaffMember) -> ScimRecord:
    """The SCIM record of a staff record (an empty one for staff made through the API)."""
    if member.scim_record:
        data = json.loads(member.scim_record)
        return ScimRecord(
            resource=dict(data.get("resource") or {}),
            created=str(data.get("created") or ""),
            modified=str(data.get("modified") or ""),
            deleted=bool(data.get("deleted")),
            hold=data.get("hold"),
        )
    return ScimRecord(resource={}, created="", modified="")


# ------------------------------------------------------------------ held deactivations (for the agency's admins)


@dataclass(frozen=True)
class HeldDeactivation:
    username: str
    held_at: str
    client_id: str
    delete: bool


def _require_agency_admin(requestor: StaffMember, agency_id: str) -> None:
    if not authz.can_view_agency(requestor, agency_id) or directory.get_agency(agency_id) is None:
        raise NotFound("No such agency")
    if not authz.can_admin_agency(requestor, agency_id):
        raise PermissionDenied("Only the agency's AgencyAdmins (or a SystemAdmin) release SCIM deactivations")


def _held(agency_id: str) -> list[tuple[StaffMember, ScimRecord]]:
    return [
        (member, record)
        for member in staff_store.list_staff()
        if member.agency_id == agency_id and (record := record_of(member)).hold
    ]


def list_holds(requestor: StaffMember, agency_id: str) -> list[HeldDeactivation]:
    """The deactivations SCIM clients asked for and the guard held, oldest first."""
    _require_agency_admin(requestor, agency_id)
    holds = [
        HeldDeactivation(
            username=member.username,
            held_at=str((record.hold or {}).get("at", "")),
            client_id=str((record.hold or {}).get("by", "")),
            delete=bool((record.hold or {}).get("delete")),
        )
        for member, record in _held(agency_id)
    ]
    return sorted(holds, key=lambda h: (h.held_at, h.username))


def settle_holds(requestor: StaffMember, agency_id: str, usernames: list[str] | None, *, release: bool) -> list[str]:
    """Release (disable, as the client asked) or discard (keep active) held deactivations; all when `usernames` is
    None. Each is the requestor's own change, audited as theirs. The usernames settled."""
    _require_agency_admin(requestor, agency_id)
    settled = []
    for member, record in _held(agency_id):
        if usernames is not None and member.username not in usernames:
            continue
        delete = bool((record.hold or {}).get("delete"))
        cleared = record.changed(hold=None, deleted=record.deleted or (release and delete)).to_json()
        changes: dict[str, Any] = {"scim_record": cleared}
        if release:
            changes["active"] = False
        admin_service.update_staff_record(requestor, member.username, changes, expected_version=member.version)
        if not release:
            audit.record(
                requestor.username,
                "SCIM_DEACTIVATION_DISCARDED",
                "staff",
                member.username,
                scopes=list(member.facility_ids) or [audit.agency_scope(agency_id)],
                agency_id=agency_id,
            )
        settled.append(member.username)
    return settled
