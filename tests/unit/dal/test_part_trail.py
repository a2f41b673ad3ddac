"""intake.dal.uploads.record_part with audit entries: the entries filed first (keyed batch writes), the part record
last, so that the trail holds a part's learners exactly when its counts do, whatever attempt stops where."""

from __future__ import annotations

from typing import Any

import pytest

from intake.dal import uploads
from intake.dal.tables import UploadItem
from intake.domain import AuditEntry, Upload, UploadStatus
from tests.integration.fault_injection import Rule, WorkerCrash
from tests.unit.dal import test_uploads_mutants as mutants
from tests.unit.dal.test_uploads_mutants import _trail

S = UploadStatus
FACILITY, OTHER_FACILITY = "fac-ridge", "fac-lake"
FAULTED = ("UploadItem", "AuditItem")


def _insert(upload_id: str, status: UploadStatus) -> None:
    upload = Upload(
        upload_id=upload_id,
        facility_id=FACILITY,
        agency_id="ag-north",
        source="web",
        object_key=f"incoming/{FACILITY}/{upload_id}.csv",
        status=status,
        created_at="2026-01-01T00:00:00+00:00",
        created_by="ridge-admin",
        expires_at="2026-01-02T00:00:00+00:00",
    )
    assert uploads.insert_upload(upload, ttl=0)


def _entries(upload_id: str, lines: range, scope: str = FACILITY) -> list[AuditEntry]:
    """A part's move entries (each learner filed under the facility it left and the one it joined)."""
    return mutants._entries(upload_id, lines, scope, action="LEARNER_MOVED")


def _parts(upload_id: str) -> set[str]:
    return set(UploadItem.get(upload_id, consistent_read=True).partsDone or ())


def _moves(upload_id: str) -> list[AuditEntry]:
    """A part of three moves: each filed under the facility the learner left and the one it is at."""
    return _entries(upload_id, range(2, 5)) + _entries(upload_id, range(2, 5), scope=OTHER_FACILITY)


def test_a_crash_after_the_entries_leaves_no_counts_and_the_replay_records_the_part_once(aws: Any, faults: Any) -> None:
    # Given an upload creating, and a worker that dies after filing a part's entries, before its record
    _insert("u-crash", S.CREATING)
    entries = _moves("u-crash")
    rule = faults.add(Rule("dynamodb", "UpdateItem", kind="crash_before", table="UploadsTable"))
    with pytest.raises(WorkerCrash):
        uploads.record_part("u-crash", "0:0", {"moved": 3}, True, entries)
    # Then the entries are filed and the counts do not hold the part yet
    assert rule.fired == 1
    assert _trail() == _trail(OTHER_FACILITY) == ["L-2", "L-3", "L-4"]
    assert _parts("u-crash") == set()
    # When the part is replayed (the message redelivered): the same entries, then the record
    recorded = uploads.record_part("u-crash", "0:0", {"moved": 3}, True, entries)
    # Then the counts hold the part once and the trail holds each entry once, under both facilities
    assert recorded is not None and (recorded.counts["moved"], recorded.chunks_done) == (3, 1)
    assert _parts("u-crash") == {"0:0"}
    assert _trail() == _trail(OTHER_FACILITY) == ["L-2", "L-3", "L-4"]


def test_a_replay_of_a_recorded_part_keeps_its_entries_and_counts_it_once(aws: Any, faults: Any) -> None:
    # Given a part recorded with its entries
    _insert("u-again", S.CREATING)
    entries = _moves("u-again")
    assert uploads.record_part("u-again", "0:0", {"moved": 3}, True, entries) is not None
    # When it is replayed (a duplicated message, or a worker that died after the record)
    again = uploads.record_part("u-again", "0:0", {"moved": 3}, True, entries)
    # Then it is not recorded again, its entries stay (the same keys, overwritten), and the counts hold it once
    assert again is None
    stored = uploads.get_upload("u-again")
    assert stored is not None and (stored.counts["moved"], stored.chunks_done) == (3, 1)
    assert _trail() == _trail(OTHER_FACILITY) == ["L-2", "L-3", "L-4"]
    assert faults.calls[("dynamodb", "BatchWriteItem")] == 2  # each attempt filed its entries, none deleted any


@pytest.mark.parametrize("status", [S.FAILED, S.EXPIRED])
def test_entries_filed_by_a_crashed_attempt_are_removed_when_the_upload_stopped_creating(
    aws: Any, faults: Any, status: UploadStatus
) -> None:
    # Given an attempt that filed a part's entries and died before its record
    _insert("u-stopped", S.CREATING)
    entries = _moves("u-stopped")
    faults.add(Rule("dynamodb", "UpdateItem", kind="crash_before", table="UploadsTable"))
    with pytest.raises(WorkerCrash):
        uploads.record_part("u-stopped", "0:0", {"moved": 3}, True, entries)
    # And the upload stopped creating meanwhile (another chunk dead-lettered, or it expired)
    UploadItem(uploadId="u-stopped").update(actions=[UploadItem.status.set(status.value)])
    # When the part is replayed
    again = uploads.record_part("u-stopped", "0:0", {"moved": 3}, True, entries)
    # Then it is not recorded, and the repair removed its entries: neither the counts nor the trail hold it
    assert again is None
    assert _parts("u-stopped") == set()
    stored = uploads.get_upload("u-stopped")
    assert stored is not None and stored.counts["moved"] == 0
    assert _trail() == _trail(OTHER_FACILITY) == []


def test_a_recorded_part_keeps_its_entries_when_the_upload_finished_since(aws: Any) -> None:
    # Given a part recorded, then its upload finished
    _insert("u-done", S.CREATING)
    entries = _moves("u-done")
    assert uploads.record_part("u-done", "0:0", {"moved": 3}, True, entries) is not None
    UploadItem(uploadId="u-done").update(actions=[UploadItem.status.set(S.COMPLETED.value)])
    # When a late duplicate of the part arrives
    again = uploads.record_part("u-done", "0:0", {"moved": 3}, True, entries)
    # Then the refusal is told apart from a stopped upload by the part being recorded: the entries stay
    assert again is None
    assert _trail() == _trail(OTHER_FACILITY) == ["L-2", "L-3", "L-4"]


def test_a_record_whose_answer_was_lost_is_not_undone(aws: Any, faults: Any) -> None:
    # Given the part record applied but its answer lost, so the SDK's retry is refused by the part it recorded
    _insert("u-lost", S.CREATING)
    entries = _moves("u-lost")
    faults.add(Rule("dynamodb", "UpdateItem", kind="lost", code="InternalServerError", table="UploadsTable"))
    # When the part is recorded
    recorded = uploads.record_part("u-lost", "0:0", {"moved": 3}, True, entries)
    # Then it reads as already recorded (None), is counted once, and its entries are kept
    assert recorded is None
    stored = uploads.get_upload("u-lost")
    assert stored is not None and (stored.counts["moved"], stored.chunks_done) == (3, 1)
    assert _trail() == _trail(OTHER_FACILITY) == ["L-2", "L-3", "L-4"]
