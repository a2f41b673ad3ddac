"""intake.dal.audit: entries stored per scope, read newest first, page by page; failures wrapped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake.dal import audit
from intake.dal.tables import AuditItem
from intake.domain import AuditEntry
from intake.errors import StorageUnavailable

FAULTED = ("AuditItem",)

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _entry(n: int, scope: str = "fac-ridge", **changes) -> AuditEntry:
    fields = {
        "scope": scope,
        "entry_id": f"2026-11-30T12:00:{n:02}Z#{n:04}",
        "at": AT + timedelta(seconds=n),
        "actor": "ridge",
        "action": "learner.create",
        "target_type": "learner",
        "target_id": f"L-{n}",
        "agency_id": "ag",
        "facility_id": "fac-ridge",
        "details": {"uploadId": "up-1", "row": n},
    }
    return AuditEntry(**{**fields, **changes})


def _count(scope: str) -> int:
    return AuditItem.count(scope)


def test_one_entry_is_stored_and_read_back_with_its_details(aws):
    # Given one entry with details
    entry = _entry(1)
    # When it is stored and its scope listed
    audit.put_entries([entry])
    # Then it comes back equal, details included
    assert audit.list_entries("fac-ridge", limit=10) == [entry]


def test_details_are_stored_as_compact_sorted_json_and_none_without_details(aws):
    # Given an entry with details and one without
    audit.put_entries([_entry(1, details={"z": 1, "a": "x y"}), _entry(2, details={})])
    # When the stored items are read
    items = {item.entryId: item for item in AuditItem.query("fac-ridge")}
    # Then details are compact, key-sorted JSON, and an entry without details stores none (and reads back as {})
    assert items[_entry(1).entry_id].details == '{"a":"x y","z":1}'
    assert items[_entry(2).entry_id].details is None
    assert audit.list_entries("fac-ridge", limit=10)[0].details == {}


def test_many_entries_are_written_in_a_batch_and_read_newest_first(aws):
    # Given 30 entries in one scope and one in another
    entries = [_entry(n) for n in range(30)]
    # When they are stored together
    audit.put_entries([*entries, _entry(99, scope="agency:ag")])
    # Then the scope lists newest first, limited, and the other scope holds its own entry only
    listed = audit.list_entries("fac-ridge", limit=5)
    assert [e.entry_id for e in listed] == [e.entry_id for e in reversed(entries)][:5]
    assert _count("fac-ridge") == 30
    assert [e.target_id for e in audit.list_entries("agency:ag", limit=10)] == ["L-99"]


def test_before_continues_after_the_last_entry_seen(aws):
    # Given 12 entries
    entries = [_entry(n) for n in range(12)]
    audit.put_entries(entries)
    # When the entries are read five at a time, each page continuing before the last one seen
    pages: list[list[AuditEntry]] = []
    before = None
    while True:
        page = audit.list_entries("fac-ridge", limit=5, before=before)
        if not page:
            break
        pages.append(page)
        before = page[-1].entry_id
    # Then the pages hold 5, 5 and 2 entries, every entry once, newest first
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [e for page in pages for e in page] == list(reversed(entries))


def test_an_entry_written_again_is_overwritten_not_duplicated(aws):
    # Given an entry stored
    audit.put_entries([_entry(1)])
    # When it is written again (a retried batch) with changed details, alone and in a batch
    audit.put_entries([_entry(1, details={"retry": True})])
    audit.put_entries([_entry(1, details={"retry": 2}), _entry(2)])
    # Then the scope holds it once, as last written
    assert _count("fac-ridge") == 2
    assert audit.list_entries("fac-ridge", limit=10, before=_entry(2).entry_id)[0].details == {"retry": 2}


def test_no_entries_make_no_request(aws, faults):
    # Given nothing to record
    # When it is recorded
    audit.put_entries([])
    # Then DynamoDB was not called
    assert sum(faults.calls.values()) == 0


@pytest.mark.parametrize(("entries", "operation"), [(1, "PutItem"), (3, "BatchWriteItem")])
def test_a_failed_write_is_storage_unavailable_and_stores_nothing(aws, refuse, entries, operation):
    # Given DynamoDB denying writes of the audit table
    refuse("dynamodb", operation, "AccessDeniedException", table="AuditTable" if operation == "PutItem" else None)
    # When entries are recorded
    with pytest.raises(StorageUnavailable, match="Could not record the audit trail"):
        audit.put_entries([_entry(n) for n in range(entries)])
    # Then none is stored
    assert _count("fac-ridge") == 0


def test_a_failed_read_is_storage_unavailable(aws, refuse):
    # Given DynamoDB throttling queries of the audit table
    refuse("dynamodb", "Query", "ProvisionedThroughputExceededException", table="AuditTable")
    # When the trail is read
    # Then the failure is the domain's
    with pytest.raises(StorageUnavailable, match="Could not read the audit trail"):
        audit.list_entries("fac-ridge", limit=5)
