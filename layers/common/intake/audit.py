"""The audit trail: who changed what, when, recorded by ids only, and read per facility."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from intake import authz, clock
from intake.dal import audit as audit_store
from intake.domain import AuditEntry, Location, LocationKind, StaffMember
from intake.errors import PermissionDenied
from intake.facility_service import get_facility
from intake.observability import logger

PAGE_MAX = 200

Details = dict[str, str | int | bool | None]


def agency_scope(agency_id: str) -> str:
    """The scope of entries about an agency as a whole (not one facility)."""
    return f"agency:{agency_id}"


SYSTEM_SCOPE = "system"

# Learner sign-ins: audited as structured log lines (one per attempt), not as entries in the audit table (a write per
# success would break the sign-in's request budget). Ids and reasons only: never the typed login, a password, a hash.
LEARNER_SIGNED_IN = "LEARNER_SIGNED_IN"
LEARNER_SIGN_IN_FAILED = "LEARNER_SIGN_IN_FAILED"
LEARNER_LOCKED_OUT = "LEARNER_LOCKED_OUT"
SIGN_IN_REASONS = frozenset({"UNKNOWN_LOGIN", "WRONG_PASSWORD", "LOCKED_OUT", "LEARNER_INACTIVE", "LEARNER_ACCESS_OFF"})


def _entry_id(at: datetime, key: str | None) -> str:
    return f"{at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{key or uuid.uuid4().hex}"


def entries_for(
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    *,
    scopes: Iterable[str],
    agency_id: str | None = None,
    facility_id: str | None = None,
    details: Details | None = None,
    at: datetime | None = None,
    key: str | None = None,
) -> list[AuditEntry]:
    """One entry per scope (a move between facilities is filed under both); `key` makes retries overwrite."""
    when = at or clock.utc_now()
    entry_id = _entry_id(when, key)
    return [
        AuditEntry(
            scope=scope,
            entry_id=entry_id,
            at=clock.utc_now() if key else when,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            agency_id=agency_id,
            facility_id=facility_id,
            details=details or {},
        )
        for scope in dict.fromkeys(scopes)
    ]


def record(
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    *,
    scopes: Iterable[str],
    agency_id: str | None = None,
    facility_id: str | None = None,
    details: Details | None = None,
) -> None:
    """Record one change now."""
    audit_store.put_entries(
        entries_for(
            actor,
            action,
            target_type,
            target_id,
            scopes=scopes,
            agency_id=agency_id,
            facility_id=facility_id,
            details=details,
        )
    )


def keyed_entries(scope: str, at: datetime, key_prefix: str, action: str) -> list[AuditEntry]:
    """The entries of one scope with this action filed at `at` under keys starting with key_prefix (entries_for's
    `key`): e.g. the rows of a bulk upload, filed at its confirm under f"{uploadId}:{line}", oldest first."""
    return audit_store.entries_with_prefix(scope, _entry_id(at, key_prefix), action)


def record_all(entries: Sequence[AuditEntry]) -> None:
    """Record many entries in batches (a bulk upload's rows)."""
    audit_store.put_entries(entries)


def location_scopes(location: Location) -> list[str]:
    """Where a change of a location is filed: its facility."""
    return [location.facility_id if location.kind is LocationKind.HOUSING_UNIT else location.location_id]


def facility_audit(
    requestor: StaffMember, facility_id: str, limit: int = 50, before: str | None = None, action: str | None = None
) -> tuple[list[AuditEntry], str | None]:
    """A facility's entries, newest first, for its administrators (only those of `action`, if given); and where the
    next page starts (pass the same `action` with it). A page of one action may hold fewer than `limit` entries and
    still have a next page: the read stops after looking at a bounded number of entries (dal.audit.find_entries)."""
    facility = get_facility(requestor, facility_id)
    if not authz.can_write_location(requestor, facility):
        raise PermissionDenied("Requestor does not have permission to read this facility's audit trail")
    size = max(1, min(limit, PAGE_MAX))
    if action is None:
        entries = audit_store.list_entries(facility.location_id, size + 1, before)
        resume = None
    else:  # a filter: a long stretch of other actions may end a page early, with where to go on
        entries, resume = audit_store.find_entries(facility.location_id, action, size + 1, before)
    following = entries[size - 1].entry_id if len(entries) > size else resume
    return entries[:size], following


def sign_in_event(
    action: str,
    *,
    agency_id: str,
    learner_id: str | None,
    facility_id: str | None,
    reason: str | None,
    failures: int | None,
    client_id: str,
) -> None:
    """Log one learner sign-in attempt as an audit line: `audit: {action, agencyId, learnerId, facilityId, reason,
    failures, clientId}` (learnerId and facilityId are None for a login that names nobody)."""
    if action not in (LEARNER_SIGNED_IN, LEARNER_SIGN_IN_FAILED, LEARNER_LOCKED_OUT):
        raise ValueError(f"not a sign-in action: {action}")
    if reason is not None and reason not in SIGN_IN_REASONS:
        raise ValueError(f"not a sign-in reason: {reason}")
    logger.info(
        "learner sign-in",
        extra={
            "audit": {
                "action": action,
                "agencyId": agency_id,
                "learnerId": learner_id,
                "facilityId": facility_id,
                "reason": reason,
                "failures": failures,
                "clientId": client_id,
            }
        },
    )
