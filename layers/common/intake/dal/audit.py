"""The audit trail: entries filed per facility (or agency:<id> / system), read newest first."""

from __future__ import annotations

import json
from collections.abc import Sequence

from intake.dal.storage_errors import storage_call
from intake.dal.tables import AuditItem, bind_tables
from intake.domain import AuditEntry


def audit_item(entry: AuditEntry) -> AuditItem:
    """The stored form of one entry (for writes that carry entries along, like a part's transaction)."""
    return AuditItem(
        scope=entry.scope,
        entryId=entry.entry_id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        targetType=entry.target_type,
        targetId=entry.target_id,
        agencyId=entry.agency_id,
        facilityId=entry.facility_id,
        details=json.dumps(entry.details, separators=(",", ":"), sort_keys=True) if entry.details else None,
    )


def _entry(item: AuditItem) -> AuditEntry:
    return AuditEntry(
        scope=item.scope,
        entry_id=item.entryId,
        at=item.at,
        actor=item.actor,
        action=item.action,
        target_type=item.targetType,
        target_id=item.targetId,
        agency_id=item.agencyId,
        facility_id=item.facilityId,
        details=json.loads(item.details) if item.details else {},
    )


def put_entries(entries: Sequence[AuditEntry]) -> None:
    """Store entries (a batch write); an entry written again with the same key is overwritten, not duplicated."""
    if not entries:
        return
    bind_tables()
    with storage_call("record the audit trail"):
        if len(entries) == 1:
            audit_item(entries[0]).save()
            return
        with AuditItem.batch_write() as batch:
            for entry in entries:
                batch.save(audit_item(entry))


def delete_entries(entries: Sequence[AuditEntry]) -> None:
    """Remove entries by their keys (a batch write; an entry already gone is no error)."""
    if not entries:
        return
    bind_tables()
    with storage_call("record the audit trail"), AuditItem.batch_write() as batch:
        for entry in entries:
            batch.delete(AuditItem(scope=entry.scope, entryId=entry.entry_id))


def entries_with_prefix(scope: str, entry_id_prefix: str, action: str) -> list[AuditEntry]:
    """Every entry of one scope whose entryId starts with this prefix and whose action is this one, oldest first
    (one Query, paged by 1 MB; the action is a filter)."""
    bind_tables()
    with storage_call("read the audit trail"):
        items = AuditItem.query(
            scope,
            range_key_condition=AuditItem.entryId.startswith(entry_id_prefix),
            filter_condition=AuditItem.action == action,
        )
        return [_entry(item) for item in items]


def list_entries(scope: str, limit: int, before: str | None = None) -> list[AuditEntry]:
    """Entries of one scope, newest first; `before` is the entryId to continue after."""
    bind_tables()
    with storage_call("read the audit trail"):
        condition = AuditItem.entryId < before if before else None
        items = AuditItem.query(scope, range_key_condition=condition, scan_index_forward=False, limit=limit)
        return [_entry(item) for item in items]


# A read of one action's entries looks at this many entries per request, and at most FILTERED_READ_MAX in all: the
# action is a filter (DynamoDB applies it after reading), so a rare action in a long trail is found page by page,
# never by one request reading the whole trail.
FILTERED_PAGE = 200
FILTERED_READ_MAX = 2000


def find_entries(scope: str, action: str, limit: int, before: str | None = None) -> tuple[list[AuditEntry], str | None]:
    """Up to `limit` entries of one scope and action, newest first, from before `before`; and, when the read stopped
    at FILTERED_READ_MAX entries looked at before finding `limit`, the entryId to continue before (else None)."""
    bind_tables()
    found: list[AuditEntry] = []
    with storage_call("read the audit trail"):
        pages = AuditItem.query(
            scope,
            range_key_condition=AuditItem.entryId < before if before else None,
            filter_condition=AuditItem.action == action,
            scan_index_forward=False,
            page_size=FILTERED_PAGE,
        ).page_iter
        for page in pages:  # one Query request each
            for raw in page.get("Items", []):
                found.append(_entry(AuditItem.from_raw_data(raw)))
                if len(found) == limit:
                    return found, None
            resume = pages.last_evaluated_key
            if resume and pages.total_scanned_count >= FILTERED_READ_MAX:
                return found, str(resume["entryId"]["S"])
    return found, None
