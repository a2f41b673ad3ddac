"""intake.dal.uploads, what its mutants showed unchecked (issue 21): every field read back, the insert's condition and
ttl, consistent reads, pages of a facility's uploads, a part recorded exactly once (with its audit entries, past one
transaction's 100 items too), the sweeper's scans and the claim on the generated passwords, each storage failure
named. The transitions and the ETag claim are in test_uploads.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from intake.dal import uploads
from intake.dal.uploads import UploadChange
from intake.domain import AuditEntry, Upload, UploadMode, UploadStatus
from intake.errors import StorageUnavailable

S = UploadStatus
FAULTED = ("UploadItem", "AuditItem")
FACILITY, OTHER_FACILITY = "fac-ridge", "fac-lake"


def _upload(upload_id: str, status: UploadStatus = S.AWAITING_FILE, **changes: Any) -> Upload:
    fields: dict[str, Any] = {
        "upload_id": upload_id,
        "facility_id": FACILITY,
        "agency_id": "ag-north",
        "source": "link",
        "file_name": f"{upload_id}.csv",
        "object_key": f"incoming/{FACILITY}/{upload_id}.csv",
        "status": status,
        "created_at": "2026-01-01T00:00:00+00:00",
        "created_by": "ridge",
        "expires_at": "2026-01-08T00:00:00+00:00",
        **changes,
    }
    return Upload(**fields)


def _insert(upload_id: str, status: UploadStatus = S.AWAITING_FILE, **changes: Any) -> Upload:
    upload = _upload(upload_id, status, **changes)
    assert uploads.insert_upload(upload, ttl=1_800_000_000)
    return upload


def _raw(upload_id: str) -> dict[str, Any]:
    from intake.dal.tables import UploadItem

    return UploadItem.get(upload_id, consistent_read=True).attribute_values


@pytest.fixture
def reads(aws: Any) -> Iterator[list[Any]]:
    """The ConsistentRead parameter of every GetItem the uploads model sends."""
    from intake.dal.tables import UploadItem, bind_tables

    bind_tables()
    seen: list[Any] = []
    events = UploadItem._get_connection().connection.client.meta.events

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params.get("ConsistentRead", "absent"))

    events.register("provide-client-params.dynamodb.GetItem", record, unique_id="test-consistent-reads")
    yield seen
    events.unregister("provide-client-params.dynamodb.GetItem", unique_id="test-consistent-reads")


# Insert and read


def test_an_inserted_upload_reads_back_field_for_field_with_empty_counts_and_its_ttl(aws: Any) -> None:
    # Given a new upload
    upload = _insert("u-new")
    # When it is read back
    stored = uploads.get_upload("u-new")
    # Then every field it was inserted with is there, its counts are all zero and DynamoDB will expire it at its ttl
    zero = {"created": 0, "moved": 0, "reactivated": 0, "updated": 0, "deactivated": 0, "skipped": 0, "failed": 0}
    assert stored == upload.model_copy(update={"counts": zero})
    assert (stored.chunks_total, stored.chunks_done, stored.errors, stored.warnings) == (0, 0, [], [])
    raw = _raw("u-new")
    assert raw["ttl"] == 1_800_000_000 and raw["fileName"] == "u-new.csv" and raw["counts"].as_dict() == {}


def test_an_upload_inserted_again_is_refused_and_the_first_is_kept(aws: Any) -> None:
    # Given a stored upload
    _insert("u-twice")
    # When a duplicated event inserts it again with other fields
    again = uploads.insert_upload(_upload("u-twice", file_name="other.csv", created_by="lake"), ttl=1)
    # Then the insert says so and the first one is unchanged
    assert again is False
    stored = uploads.get_upload("u-twice")
    assert stored is not None and (stored.file_name, stored.created_by) == ("u-twice.csv", "ridge")
    assert _raw("u-twice")["ttl"] == 1_800_000_000


def test_every_field_a_transition_writes_is_read_back(aws: Any) -> None:
    # Given an upload moved through a change of every field
    _insert("u-full", S.VALIDATED)
    change = UploadChange(
        reason="why",
        counts={"rows": 3, "valid": 2},
        errors=[{"line": 2, "code": "REQUIRED", "field": "docID"}],
        warnings=[{"line": 3, "code": "DOC_ID_LEADING_ZEROS"}],
        encoding="utf-8",
        error_report_key="reports/e.csv",
        chunks_total=4,
        data_key="ciphertext",
        skip_invalid_rows=True,
        move_existing=False,
        confirmed_by="ridge-admin",
        confirmed_at="2026-01-01T01:00:00+00:00",
        result_report_key="reports/r.csv",
        completed_at="2026-01-01T02:00:00+00:00",
        result_passwords_key="passwords/r.csv",
        passwords_until="2026-01-02T02:00:00+00:00",
    )
    moved = uploads.transition("u-full", {S.VALIDATED}, S.CREATING, change)
    # When it is read back
    stored = uploads.get_upload("u-full")
    # Then the transition's answer and the stored upload hold every field
    assert stored == moved
    assert stored is not None
    assert (stored.status, stored.reason, stored.encoding, stored.error_report_key) == (
        S.CREATING,
        "why",
        "utf-8",
        "reports/e.csv",
    )
    assert stored.counts == {
        "rows": 3,
        "valid": 2,
        "created": 0,
        "moved": 0,
        "reactivated": 0,
        "updated": 0,
        "deactivated": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert stored.errors == [{"line": 2, "code": "REQUIRED", "field": "docID"}]
    assert stored.warnings == [{"line": 3, "code": "DOC_ID_LEADING_ZEROS"}]
    assert (stored.chunks_total, stored.chunks_done, stored.data_key) == (4, 0, "ciphertext")
    assert (stored.skip_invalid_rows, stored.move_existing) == (True, False)
    assert (stored.confirmed_by, stored.confirmed_at) == ("ridge-admin", "2026-01-01T01:00:00+00:00")
    assert (stored.result_report_key, stored.result_passwords_key, stored.passwords_until) == (
        "reports/r.csv",
        "passwords/r.csv",
        "2026-01-02T02:00:00+00:00",
    )
    assert _raw("u-full")["completedAt"] == "2026-01-01T02:00:00+00:00"
    assert uploads.claim_result_passwords("u-full", "ridge-admin")
    claimed = uploads.get_upload("u-full")
    assert claimed is not None and claimed.passwords_claimed_by == "ridge-admin"


def test_reads_of_no_id_or_a_missing_upload_are_none(aws: Any) -> None:
    assert uploads.get_upload("") is None
    assert uploads.get_upload("u-missing") is None


def test_every_read_of_an_upload_is_consistent(reads: list[Any]) -> None:
    # Given an upload
    _insert("u-read", S.VALIDATED)
    # When it is read, and a transition is refused (its current item read to tell a retry from a refusal)
    uploads.get_upload("u-read")
    uploads.transition("u-read", {S.VALIDATED}, S.EXPIRED, UploadChange(reason="late"))
    uploads.transition("u-read", {S.VALIDATED}, S.EXPIRED, UploadChange(reason="later"))
    # And a part with audit entries is refused (its upload read to tell a replay from an upload not creating)
    _insert("u-part", S.FAILED)
    uploads.record_part("u-part", "0:0", {"created": 1}, True, _entries("u-part", range(2, 3)))
    # Then each read is strongly consistent: a read just after a write sees it
    assert reads == [True, True, True]


# A refused transition that was the caller's own write (the SDK retried it after a lost response)


def test_a_retried_transition_with_nested_values_is_ours_and_another_count_is_not(aws: Any) -> None:
    # Given an upload validated with counts and errors
    _insert("u-nested", S.VALIDATING)
    change = UploadChange(counts={"rows": 2, "invalid": 1}, errors=[{"line": 2, "code": "REQUIRED"}])
    assert uploads.transition("u-nested", {S.VALIDATING}, S.VALIDATED_WITH_ERRORS, change) is not None
    # When the same write is refused (the item already holds it), then another write with other counts
    same = uploads.transition("u-nested", {S.VALIDATING}, S.VALIDATED_WITH_ERRORS, change)
    other = UploadChange(counts={"rows": 2, "invalid": 2}, errors=[{"line": 2, "code": "REQUIRED"}])
    refused = uploads.transition("u-nested", {S.VALIDATING}, S.VALIDATED_WITH_ERRORS, other)
    # Then the first is taken for ours, with the stored upload; the second is refused
    assert same is not None and same.counts["invalid"] == 1 and same.errors == [{"line": 2, "code": "REQUIRED"}]
    assert refused is None


def test_a_retried_transition_with_other_errors_is_not_ours(aws: Any) -> None:
    _insert("u-errors", S.VALIDATING)
    first = UploadChange(errors=[{"line": 2, "code": "REQUIRED"}])
    assert uploads.transition("u-errors", {S.VALIDATING}, S.VALIDATED_WITH_ERRORS, first) is not None
    other = UploadChange(errors=[{"line": 3, "code": "REQUIRED"}])
    assert uploads.transition("u-errors", {S.VALIDATING}, S.VALIDATED_WITH_ERRORS, other) is None


# Pages of a facility's uploads


def test_a_facilitys_uploads_come_newest_first_in_pages_that_end(aws: Any) -> None:
    # Given five uploads of one facility and one of another
    for n in range(5):
        _insert(f"u-{n}", created_at=f"2026-01-0{n + 1}T00:00:00+00:00")
    _insert("u-lake", facility_id=OTHER_FACILITY, created_at="2026-01-09T00:00:00+00:00")
    # When they are listed two at a time
    first, after = uploads.list_upload_page(FACILITY, 2)
    second, after_second = uploads.list_upload_page(FACILITY, 2, after)
    third, end = uploads.list_upload_page(FACILITY, 2, after_second)
    # Then each page is the next two, newest first, and the last page says there is no next one
    assert [u.upload_id for u in first] == ["u-4", "u-3"]
    assert after == ("2026-01-04T00:00:00+00:00", "u-3")
    assert [u.upload_id for u in second] == ["u-2", "u-1"]
    assert [u.upload_id for u in third] == ["u-0"] and end is None
    # A page that is exactly the rest also ends (the extra item read says there is no more)
    rest, none = uploads.list_upload_page(FACILITY, 5)
    assert len(rest) == 5 and none is None
    assert uploads.list_uploads(FACILITY, 3) == first + second[:1]
    assert [u.upload_id for u in uploads.list_uploads(OTHER_FACILITY)] == ["u-lake"]


def test_a_list_of_uploads_is_one_page_of_fifty_by_default(aws: Any) -> None:
    for n in range(uploads.PAGE_SIZE + 1):
        _insert(f"u-{n:03d}", created_at=f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}+00:00")
    listed = uploads.list_uploads(FACILITY)
    assert len(listed) == uploads.PAGE_SIZE == 50
    assert listed[0].upload_id == "u-050" and listed[-1].upload_id == "u-001"
    page, after = uploads.list_upload_page(FACILITY)
    assert page == listed and after == (listed[-1].created_at, "u-001")


# A part recorded exactly once


def _entries(upload_id: str, lines: range, scope: str = FACILITY, action: str = "LEARNER_CREATED") -> list[AuditEntry]:
    at = datetime(2026, 1, 1, 1, tzinfo=UTC)
    return [
        AuditEntry(
            scope=scope,
            entry_id=f"{at.isoformat()}#{upload_id}:{line:07d}",
            at=at,
            actor="ridge-admin",
            action=action,
            target_type="learner",
            target_id=f"L-{line}",
            agency_id="ag-north",
            facility_id=FACILITY,
            details={"uploadId": upload_id},
        )
        for line in lines
    ]


def _trail(scope: str = FACILITY) -> list[str]:
    from intake.dal.audit import list_entries

    return sorted(entry.target_id for entry in list_entries(scope, 1000))


def test_a_part_adds_its_counts_once_and_the_chunk_when_it_finishes_one(aws: Any) -> None:
    # Given an upload creating two chunks
    _insert("u-parts", S.VALIDATED)
    uploads.transition("u-parts", {S.VALIDATED}, S.CREATING, UploadChange(chunks_total=2, counts={"rows": 9}))
    # When a part is recorded, recorded again, and a chunk's last part is recorded
    first = uploads.record_part("u-parts", "0:0", {"created": 2, "moved": 1, "skipped": 1, "failed": 1}, False)
    again = uploads.record_part("u-parts", "0:0", {"created": 2, "moved": 1, "skipped": 1, "failed": 1}, False)
    last = uploads.record_part("u-parts", "0:50", {"created": 3}, True)
    # Then each part is counted once, and only the last one counts its chunk done
    assert first is not None and first.chunks_done == 0
    assert first.counts == {
        "rows": 9,
        "created": 2,
        "moved": 1,
        "reactivated": 0,
        "updated": 0,
        "deactivated": 0,
        "skipped": 1,
        "failed": 1,
    }
    assert again is None
    assert last is not None and last.chunks_done == 1 and last.chunks_total == 2
    assert last.counts == {
        "rows": 9,
        "created": 5,
        "moved": 1,
        "reactivated": 0,
        "updated": 0,
        "deactivated": 0,
        "skipped": 1,
        "failed": 1,
    }
    assert uploads.get_upload("u-parts") == last
    assert _raw("u-parts")["partsDone"] == {"0:0", "0:50"}


def test_a_part_of_an_upload_not_creating_is_not_recorded(aws: Any) -> None:
    # Given an upload that failed, and one still validated
    for upload_id, status in (("u-failed", S.FAILED), ("u-validated", S.VALIDATED)):
        _insert(upload_id, status)
        # When a late part is recorded, with entries and without
        assert uploads.record_part(upload_id, "0:0", {"created": 1}, True) is None
        assert uploads.record_part(upload_id, "0:50", {"created": 1}, True, _entries(upload_id, range(2, 3))) is None
        # Then nothing is counted and no entry is filed
        stored = uploads.get_upload(upload_id)
        assert stored is not None and (stored.counts["created"], stored.chunks_done) == (0, 0)
        assert "partsDone" not in _raw(upload_id)
    assert _trail() == []


def test_a_part_with_entries_records_counts_and_entries_together_once(aws: Any) -> None:
    # Given an upload creating
    _insert("u-trail", S.CREATING)
    # When a part with three entries is recorded, then again (a redelivered message)
    entries = _entries("u-trail", range(2, 5))
    recorded = uploads.record_part("u-trail", "0:0", {"created": 3}, True, entries)
    again = uploads.record_part("u-trail", "0:0", {"created": 3}, True, entries)
    # Then the counts and the chunk are added once, and the trail holds each entry once
    assert recorded is not None and (recorded.counts["created"], recorded.chunks_done) == (3, 1)
    assert recorded == uploads.get_upload("u-trail")
    assert again is None
    stored = uploads.get_upload("u-trail")
    assert stored is not None and (stored.counts["created"], stored.chunks_done) == (3, 1)
    assert _trail() == ["L-2", "L-3", "L-4"]


def test_a_part_with_more_entries_than_one_transaction_takes_files_them_all(aws: Any) -> None:
    # Given an upload creating, and a part of moves filed under two facilities (150 entries)
    _insert("u-many", S.CREATING)
    entries = _entries("u-many", range(2, 77)) + _entries("u-many", range(2, 77), scope=OTHER_FACILITY)
    # When it is recorded
    recorded = uploads.record_part("u-many", "0:0", {"moved": 75}, True, entries)
    # Then every entry is filed and the part is counted once
    assert recorded is not None and (recorded.counts["moved"], recorded.chunks_done) == (75, 1)
    assert len(_trail()) == len(_trail(OTHER_FACILITY)) == 75
    # And exactly one transaction's worth (the update and 99 entries) went in one request
    assert uploads.record_part("u-many", "0:0", {"moved": 75}, True, entries) is None
    stored = uploads.get_upload("u-many")
    assert stored is not None and stored.counts["moved"] == 75


def test_a_part_of_a_hundred_entries_is_four_batch_writes_and_one_update(aws: Any, faults: Any) -> None:
    # Given an upload creating and a part of 99 entries
    _insert("u-hundred", S.CREATING)
    entries = _entries("u-hundred", range(2, 101))
    # When it is recorded
    assert uploads.record_part("u-hundred", "0:0", {"created": 99}, True, entries) is not None
    # Then the entries went in batch writes of 25 (no transaction: 1 WCU each, not 2), the counts in one update and
    # nothing was read, and the trail holds every entry
    assert faults.calls[("dynamodb", "TransactWriteItems")] == 0
    assert faults.calls[("dynamodb", "BatchWriteItem")] == 4
    assert faults.calls[("dynamodb", "UpdateItem")] == 1
    assert faults.calls[("dynamodb", "GetItem")] == 0
    assert len(_trail()) == 99


def test_refused_part_entries_are_storage_unavailable_and_nothing_is_counted(aws: Any, refuse: Any) -> None:
    _insert("u-refused", S.CREATING)
    refuse("dynamodb", "BatchWriteItem", "AccessDeniedException")
    with pytest.raises(StorageUnavailable) as raised:
        uploads.record_part("u-refused", "0:0", {"created": 1}, True, _entries("u-refused", range(2, 4)))
    assert raised.value.message == "Could not record the audit trail right now; try again in a moment"
    stored = uploads.get_upload("u-refused")
    assert stored is not None and (stored.counts["created"], stored.chunks_done) == (0, 0)


def test_a_refused_part_update_that_is_not_a_condition_is_storage_unavailable(aws: Any, refuse: Any) -> None:
    _insert("u-denied", S.CREATING)
    refuse("dynamodb", "UpdateItem", "AccessDeniedException", table="UploadsTable")
    with pytest.raises(StorageUnavailable) as raised:
        uploads.record_part("u-denied", "0:0", {"created": 1}, True)
    assert raised.value.message == "Could not count created learners right now; try again in a moment"


# The sweeper's scans


def test_only_unfinished_uploads_past_their_expiry_are_due(aws: Any) -> None:
    # Given uploads before, at and after their expiry, finished or not
    _insert("u-past", S.VALIDATED, expires_at="2026-01-05T00:00:00+00:00")
    _insert("u-now", S.VALIDATED, expires_at="2026-01-06T00:00:00+00:00")
    _insert("u-later", S.AWAITING_FILE, expires_at="2026-01-07T00:00:00+00:00")
    _insert("u-done", S.COMPLETED, expires_at="2026-01-01T00:00:00+00:00")
    _insert("u-waiting", S.AWAITING_FILE, expires_at="2026-01-02T00:00:00+00:00")
    # When the sweeper asks at 2026-01-06 for uploads still validated or awaiting a file
    due = uploads.due_for_expiry("2026-01-06T00:00:00+00:00", {S.VALIDATED, S.AWAITING_FILE})
    # Then only those strictly before now and in those statuses are due, read whole
    found = sorted(due, key=lambda upload: upload.upload_id)
    assert [u.upload_id for u in found] == ["u-past", "u-waiting"]
    assert found[0] == uploads.get_upload("u-past")


def _with_passwords(upload_id: str, until: str | None) -> None:
    _insert(upload_id, S.CREATING)
    change = UploadChange(result_passwords_key=f"passwords/{upload_id}.csv" if until else None, passwords_until=until)
    assert uploads.transition(upload_id, {S.CREATING}, S.COMPLETED, change) is not None


def test_only_results_with_passwords_past_their_time_are_due(aws: Any) -> None:
    _with_passwords("u-old", "2026-01-02T00:00:00+00:00")
    _with_passwords("u-now", "2026-01-03T00:00:00+00:00")
    _with_passwords("u-new", "2026-01-04T00:00:00+00:00")
    _with_passwords("u-none", None)
    due = list(uploads.due_for_password_expiry("2026-01-03T00:00:00+00:00"))
    assert [u.upload_id for u in due] == ["u-old"]
    assert due[0] == uploads.get_upload("u-old") and due[0].result_passwords_key == "passwords/u-old.csv"
    # Once forgotten, they are no longer due
    uploads.forget_result_passwords("u-old", "passwords/u-old.csv")
    assert list(uploads.due_for_password_expiry("2026-01-03T00:00:00+00:00")) == []


def test_a_refused_scan_is_storage_unavailable(aws: Any, refuse: Any) -> None:
    refuse("dynamodb", "Scan", "AccessDeniedException", table="UploadsTable")
    with pytest.raises(StorageUnavailable) as expiry:
        list(uploads.due_for_expiry("2026-01-06T00:00:00+00:00", {S.VALIDATED}))
    assert expiry.value.message == "Could not list uploads due to expire right now; try again in a moment"
    with pytest.raises(StorageUnavailable) as passwords:
        list(uploads.due_for_password_expiry("2026-01-06T00:00:00+00:00"))
    assert passwords.value.message == "Could not list uploads with expired passwords right now; try again in a moment"


# The generated passwords: claimed by one staff member, forgotten once deleted


def test_the_passwords_go_to_the_first_claimant_only_and_only_while_they_exist(aws: Any) -> None:
    # Given an upload with results with passwords, and one without
    _with_passwords("u-claim", "2026-01-02T00:00:00+00:00")
    _with_passwords("u-nothing", None)
    # When staff claim them
    first = uploads.claim_result_passwords("u-claim", "ridge-admin")
    repeat = uploads.claim_result_passwords("u-claim", "ridge-admin")
    other = uploads.claim_result_passwords("u-claim", "lake-admin")
    # Then the first claimant gets them (again, too), nobody else, and nothing is claimed that does not exist
    assert (first, repeat, other) == (True, True, False)
    stored = uploads.get_upload("u-claim")
    assert stored is not None and stored.passwords_claimed_by == "ridge-admin"
    assert uploads.claim_result_passwords("u-nothing", "ridge-admin") is False
    nothing = uploads.get_upload("u-nothing")
    assert nothing is not None and nothing.passwords_claimed_by is None


def test_forgetting_the_passwords_only_unlinks_the_key_it_names(aws: Any) -> None:
    # Given an upload with results with passwords
    _with_passwords("u-forget", "2026-01-02T00:00:00+00:00")
    # When another key is forgotten, then its own, then its own again
    uploads.forget_result_passwords("u-forget", "passwords/other.csv")
    kept = uploads.get_upload("u-forget")
    uploads.forget_result_passwords("u-forget", "passwords/u-forget.csv")
    uploads.forget_result_passwords("u-forget", "passwords/u-forget.csv")
    # Then only its own key unlinks them; a repeat changes nothing and raises nothing
    assert kept is not None and kept.result_passwords_key == "passwords/u-forget.csv"
    gone = uploads.get_upload("u-forget")
    assert gone is not None and gone.result_passwords_key is None
    assert gone.passwords_until == "2026-01-02T00:00:00+00:00"
    assert uploads.claim_result_passwords("u-forget", "ridge-admin") is False


@pytest.mark.parametrize("call", ["claim", "forget"])
def test_a_refused_password_update_that_is_not_a_condition_is_storage_unavailable(
    aws: Any, refuse: Any, call: str
) -> None:
    _with_passwords("u-denied", "2026-01-02T00:00:00+00:00")
    refuse("dynamodb", "UpdateItem", "AccessDeniedException", table="UploadsTable")
    with pytest.raises(StorageUnavailable) as raised:
        if call == "claim":
            uploads.claim_result_passwords("u-denied", "ridge-admin")
        else:
            uploads.forget_result_passwords("u-denied", "passwords/u-denied.csv")
    assert raised.value.message == "Could not update the upload right now; try again in a moment"


# Each storage failure named


def test_each_refused_call_says_what_could_not_be_done(aws: Any, refuse: Any) -> None:
    _insert("u-stored", S.VALIDATED)
    refuse("dynamodb", "PutItem", "AccessDeniedException", table="UploadsTable")
    refuse("dynamodb", "GetItem", "AccessDeniedException", table="UploadsTable")
    refuse("dynamodb", "UpdateItem", "AccessDeniedException", table="UploadsTable")
    refuse("dynamodb", "Query", "AccessDeniedException", table="UploadsTable")
    messages = []
    for call in (
        lambda: uploads.insert_upload(_upload("u-other"), ttl=1),
        lambda: uploads.get_upload("u-stored"),
        lambda: uploads.transition("u-stored", {S.VALIDATED}, S.EXPIRED),
        lambda: uploads.list_uploads(FACILITY),
    ):
        with pytest.raises(StorageUnavailable) as raised:
            call()
        messages.append(raised.value.message.removesuffix(" right now; try again in a moment"))
    assert messages == [
        "Could not save the upload",
        "Could not read the upload",
        "Could not update the upload",
        "Could not list uploads",
    ]


def test_an_upload_keeps_the_first_data_key_stored_and_answers_it_to_every_later_one(aws: Any) -> None:
    # Given an upload without a data key
    _insert("u-key")
    # When two validations keep their own keys, one after the other
    first = uploads.keep_data_key("u-key", "sealed-first")
    second = uploads.keep_data_key("u-key", "sealed-second")
    # Then both are answered the first, which alone is stored
    assert (first, second) == ("sealed-first", "sealed-first")
    assert uploads.get_upload("u-key").data_key == "sealed-first"  # type: ignore[union-attr]
    # And an upload that does not exist keeps nothing and is not made
    assert uploads.keep_data_key("u-none", "sealed") is None
    assert uploads.get_upload("u-none") is None


def test_a_data_key_not_kept_for_a_storage_failure_says_so_and_stores_nothing(aws: Any, refuse: Any) -> None:
    # Given an upload, and DynamoDB refusing updates of the uploads table
    _insert("u-key-down")
    refuse("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException", table="UploadsTable")
    # When a key is kept, Then the failure is the domain's, and the upload has no key
    with pytest.raises(StorageUnavailable) as raised:
        uploads.keep_data_key("u-key-down", "sealed")
    assert raised.value.message == "Could not update the upload right now; try again in a moment"
    assert uploads.get_upload("u-key-down").data_key is None  # type: ignore[union-attr]


def _as_stored(upload: Upload) -> Upload:
    """An upload as read back: every creation count there, 0 if none was recorded."""
    return upload.model_copy(update={"counts": dict.fromkeys(uploads.CREATION_COUNTS, 0) | upload.counts})


def test_a_sync_uploads_hold_mode_and_plan_report_round_trip_and_the_hold_is_stored_as_sorted_compact_json(
    aws: Any,
) -> None:
    # Given a sync upload validating
    _insert("u-held", S.VALIDATING, mode=UploadMode.SYNC)
    hold = {"code": "MASS_DEACTIVATION", "toDeactivate": 9, "activeLearners": 20, "message": "check plan.csv"}
    plan = f"reports/{FACILITY}/u-held/plan.csv"
    # When it is validated held for a mass deactivation, with a plan.csv, then confirmed with allowMassDeactivation
    validated = uploads.transition("u-held", {S.VALIDATING}, S.VALIDATED, UploadChange(hold=hold, plan_report_key=plan))
    confirmed = uploads.transition(
        "u-held", {S.VALIDATED}, S.CREATING, UploadChange(allow_mass_deactivation=True, confirmed_by="ridge")
    )
    # Then each is read back as written, the mode too
    assert validated is not None and (validated.hold, validated.plan_report_key) == (hold, plan)
    assert confirmed == uploads.get_upload("u-held")
    assert confirmed is not None and confirmed.mode is UploadMode.SYNC
    assert (confirmed.hold, confirmed.plan_report_key, confirmed.allow_mass_deactivation) == (hold, plan, True)
    # And the hold is one attribute of sorted, compact JSON
    assert _raw("u-held")["hold"] == json.dumps(hold, separators=(",", ":"), sort_keys=True)


def test_a_finished_syncs_deactivations_are_marked_undone_once_by_the_first_who_did(aws: Any) -> None:
    # Given a completed sync, and one still creating
    finished = {S.COMPLETED, S.COMPLETED_WITH_ERRORS}
    _insert("u-undo", S.COMPLETED, mode=UploadMode.SYNC)
    busy = _insert("u-busy", S.CREATING, mode=UploadMode.SYNC)
    # When its deactivations are undone, then undone again by someone else later
    first = uploads.mark_deactivations_undone("u-undo", "2026-02-01T00:00:00+00:00", "ridge", finished)
    again = uploads.mark_deactivations_undone("u-undo", "2026-02-02T00:00:00+00:00", "lake", finished)
    # Then the first instant and staff member are kept, and answered both times
    assert first is not None and again == first == uploads.get_upload("u-undo")
    assert (first.deactivations_undone_at, first.deactivations_undone_by) == ("2026-02-01T00:00:00+00:00", "ridge")
    # And an unfinished or missing upload is not marked
    assert uploads.mark_deactivations_undone("u-busy", "2026-02-01T00:00:00+00:00", "ridge", finished) is None
    assert uploads.get_upload("u-busy") == _as_stored(busy)
    assert uploads.mark_deactivations_undone("u-nowhere", "2026-02-01T00:00:00+00:00", "ridge", finished) is None
    assert uploads.get_upload("u-nowhere") is None


def test_a_mark_of_undone_deactivations_refused_by_storage_says_so_and_marks_nothing(aws: Any, refuse: Any) -> None:
    # Given a completed sync, and DynamoDB denying updates of the uploads table
    stored = _insert("u-undo-down", S.COMPLETED, mode=UploadMode.SYNC)
    refuse("dynamodb", "UpdateItem", "AccessDeniedException", table="UploadsTable")
    # When its deactivations are marked undone, Then the failure is the domain's, and nothing is marked
    with pytest.raises(StorageUnavailable) as raised:
        uploads.mark_deactivations_undone("u-undo-down", "2026-02-01T00:00:00+00:00", "ridge", {S.COMPLETED})
    assert raised.value.message == "Could not update the upload right now; try again in a moment"
    assert uploads.get_upload("u-undo-down") == _as_stored(stored)
