"""intake.upload_service: upload links, reading and listing uploads, expiry on read, the confirm, and report links.

Over moto with the seeded directory (tests/conftest.py); uploads are put in their status by the upload lifecycle
(tests/unit/upload_support.py). The API-level flows are in tests/integration/test_upload_ownership.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from intake import upload_service
from intake.dal import audit as audit_store
from intake.dal import uploads as upload_store
from intake.domain import Upload, UploadStatus
from intake.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from intake.facility_service import get_facility
from intake.settings import get_settings
from tests.conftest import FAC_A1, FAC_A2
from tests.unit.upload_support import awaiting_upload, creation_messages, stored, validated_upload

# ------------------------------------------------------------------ create_upload_link


def test_a_link_stores_an_upload_awaiting_its_file_and_a_post_bound_to_its_key_and_size(aws, directory):
    # Given ridge's FacilityAdmin
    before = datetime.now(UTC)
    # When it asks for an upload link for ridge
    link = upload_service.create_upload_link(directory["ridge"], FAC_A1, "learners.csv")
    # Then the upload is stored AWAITING_FILE, under the facility's incoming key, expiring in the settings' days
    upload = stored(link.upload.upload_id)
    fields = ("upload_id", "object_key", "status", "created_at", "expires_at")
    assert [getattr(upload, name) for name in fields] == [getattr(link.upload, name) for name in fields]
    assert upload.status is UploadStatus.AWAITING_FILE
    assert (upload.facility_id, upload.agency_id, upload.source) == (FAC_A1, "ag-north", "link")
    assert (upload.file_name, upload.created_by) == ("learners.csv", "ridge")
    assert upload.object_key == f"incoming/{FAC_A1}/{upload.upload_id}.csv"
    expires = datetime.fromisoformat(upload.expires_at) - datetime.fromisoformat(upload.created_at)
    assert expires == timedelta(days=get_settings().upload_expiry_days)
    # And the presigned POST is to the bucket, for that key, with a size range up to the facility's limit
    settings = get_settings()
    assert link.max_bytes == settings.max_upload_bytes
    assert aws.bucket in link.url and link.fields["key"] == upload.object_key
    policy = json.loads(base64.b64decode(link.fields["policy"]))
    assert ["content-length-range", 1, link.max_bytes] in policy["conditions"]
    assert {"key": upload.object_key} in policy["conditions"]
    # And the link expires after the settings' link lifetime
    expires_at = datetime.fromisoformat(link.expires_at)
    assert before + timedelta(seconds=settings.upload_link_ttl_seconds) <= expires_at
    assert expires_at <= datetime.now(UTC) + timedelta(seconds=settings.upload_link_ttl_seconds)


def _uploads_of(facility_id: str) -> list[Upload]:
    return upload_store.list_uploads(facility_id)


def test_a_reader_of_the_facility_is_refused_a_link_with_the_contracts_message(aws, directory):
    # Given an Educator of ridge (may see ridge, may not create learners there)
    # When it asks for a link for ridge
    with pytest.raises(PermissionDenied) as refused:
        upload_service.create_upload_link(directory["teacher"], FAC_A1, None)
    # Then it is refused, saying why, and no upload is stored
    assert refused.value.message == "Requestor does not have permission to upload learners for this facility"
    assert _uploads_of(FAC_A1) == []


@pytest.mark.parametrize("who", ["lake", "bay"])
def test_staff_outside_the_facility_are_told_it_does_not_exist(aws, directory, who):
    # Given a FacilityAdmin of another facility (of the same agency, of another)
    # When it asks for a link for ridge
    with pytest.raises(NotFound, match="No such facility"):
        upload_service.create_upload_link(directory[who], FAC_A1, None)
    # Then nothing is stored
    assert _uploads_of(FAC_A1) == []


# ------------------------------------------------------------------ load_upload and expire_if_due


def test_load_upload_answers_an_upload_in_scope_and_not_found_outside(aws, directory):
    # Given an upload of ridge
    upload = awaiting_upload()
    # When ridge's admin and its agency's admin load it, Then they get it with its facility
    for who in ("ridge", "north", "teacher"):
        loaded, facility = upload_service.load_upload(directory[who], upload.upload_id)
        assert (loaded.upload_id, loaded.status, facility.location_id) == (upload.upload_id, upload.status, FAC_A1)
    # When lake's or bay's admin loads it, or anyone loads an unknown id, Then it is NotFound (as if it did not exist)
    for who, upload_id in (("lake", upload.upload_id), ("bay", upload.upload_id), ("ridge", "nope"), ("ridge", "")):
        with pytest.raises(NotFound, match="No such upload"):
            upload_service.load_upload(directory[who], upload_id)


def test_an_unconfirmed_upload_past_its_expiry_expires_when_read(aws, directory):
    # Given a validated upload whose expiry has passed, with a plan object still in the bucket
    past = datetime.now(UTC) - timedelta(days=3)
    upload = validated_upload(created=past, expires=past + timedelta(days=2))
    s3 = boto3.client("s3", region_name="us-east-1")
    plan_key = f"plans/{FAC_A1}/{upload.upload_id}/chunk-0000.jsonl"
    s3.put_object(Bucket=aws.bucket, Key=plan_key, Body=b"{}")
    # When it is read
    loaded, _ = upload_service.load_upload(directory["ridge"], upload.upload_id)
    # Then it is EXPIRED, in storage too, and its plan is deleted
    assert loaded.status is UploadStatus.EXPIRED
    assert stored(upload.upload_id).status is UploadStatus.EXPIRED
    assert s3.list_objects_v2(Bucket=aws.bucket, Prefix=f"plans/{FAC_A1}/{upload.upload_id}/").get("KeyCount") == 0


def test_expire_if_due_leaves_an_upload_not_due_or_already_finished(aws, directory):
    # Given an upload not yet due, and one past its expiry but already CREATING
    fresh = awaiting_upload()
    past = datetime.now(UTC) - timedelta(days=3)
    creating = validated_upload(chunks=1, created=past, expires=past + timedelta(days=2))
    creating = upload_service.lifecycle.start_creating(
        creating, skip_invalid_rows=False, move_existing=False, confirmed_by="ridge", confirmed_at=datetime.now(UTC)
    )
    assert creating is not None
    # When each is checked for expiry
    # Then each is answered as it is, and stays so in storage
    assert upload_service.expire_if_due(fresh) == fresh
    assert upload_service.expire_if_due(creating) == creating
    assert stored(fresh.upload_id).status is UploadStatus.AWAITING_FILE
    assert stored(creating.upload_id).status is UploadStatus.CREATING


def test_expire_if_due_answers_the_stored_upload_when_another_change_won(aws, directory):
    # Given an upload past its expiry, read before it was confirmed (a stale copy)
    past = datetime.now(UTC) - timedelta(days=3)
    stale = validated_upload(chunks=1, created=past, expires=past + timedelta(days=2))
    upload_service.lifecycle.start_creating(
        stale, skip_invalid_rows=False, move_existing=False, confirmed_by="ridge", confirmed_at=datetime.now(UTC)
    )
    # When the stale copy is checked for expiry
    answer = upload_service.expire_if_due(stale)
    # Then the expiry does not happen and the stored (CREATING) upload is answered
    assert answer.status is UploadStatus.CREATING == stored(stale.upload_id).status


# ------------------------------------------------------------------ list_uploads


def _seed(facility_id: str, count: int) -> list[str]:
    """count uploads of a facility, a minute apart; their ids newest first."""
    start = datetime.now(UTC) - timedelta(hours=1)
    agency = "ag-north"
    ids = [
        awaiting_upload(
            facility_id, agency, created=start + timedelta(minutes=n), upload_id=f"{facility_id}-{n:03d}"
        ).upload_id
        for n in range(count)
    ]
    return ids[::-1]


def test_uploads_are_listed_a_page_at_a_time_newest_first(aws, directory):
    # Given 7 uploads of ridge and 2 of lake
    expected = _seed(FAC_A1, 7)
    _seed(FAC_A2, 2)
    # When ridge's admin pages through ridge's with a limit of 3
    pages, cursor = [], None
    while True:
        page = upload_service.list_uploads(directory["ridge"], FAC_A1, limit=3, cursor=cursor)
        pages.append([entry.upload.upload_id for entry in page.uploads])
        cursor = page.next_cursor
        if cursor is None:
            break
    # Then 3 pages of 3, 3 and 1, newest first, only ridge's, each once
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [upload_id for page in pages for upload_id in page] == expected
    # And a page that holds them all has no cursor
    assert upload_service.list_uploads(directory["ridge"], FAC_A1, limit=7).next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        upload_service.encode_cursor(FAC_A2, ("2026-01-01T00:00:00+00:00", "x")),  # another facility's
        upload_service.encode_cursor(FAC_A1, ("yesterday", "x")),
        upload_service.encode_cursor(FAC_A1, ("2026-01-01T00:00:00", "x")),  # no time zone
        upload_service.encode_cursor(FAC_A1, ("2026-01-01T00:00:00+00:00", "a/b")),
        base64.urlsafe_b64encode(b'{"facilityId": "fac-ridge"}').decode(),
        "A" * 600,
    ],
)
def test_a_bad_cursor_is_validation_failed_naming_the_cursor(aws, directory, cursor):
    # Given uploads of ridge
    _seed(FAC_A1, 2)
    # When they are listed with a cursor this list did not give
    with pytest.raises(ValidationFailed) as failed:
        upload_service.list_uploads(directory["ridge"], FAC_A1, limit=1, cursor=cursor)
    # Then the error names the cursor
    assert [(error.field, error.code) for error in failed.value.errors] == [("cursor", "INVALID_VALUE")]


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_a_limit_out_of_range_is_validation_failed(aws, directory, limit):
    with pytest.raises(ValidationFailed) as failed:
        upload_service.list_uploads(directory["ridge"], FAC_A1, limit=limit)
    assert [error.field for error in failed.value.errors] == ["limit"]


def test_a_facility_out_of_scope_cannot_be_listed(aws, directory):
    _seed(FAC_A1, 1)
    with pytest.raises(NotFound):
        upload_service.list_uploads(directory["lake"], FAC_A1)


# ------------------------------------------------------------------ confirm_upload


def test_an_upload_not_confirmable_is_a_conflict(aws, directory, lambda_context):
    # Given an upload still awaiting its file
    upload = awaiting_upload()
    # When ridge's admin confirms it
    with pytest.raises(Conflict, match="AWAITING_FILE and cannot be confirmed"):
        upload_service.confirm_upload(directory["ridge"], upload.upload_id, False, False, lambda_context)
    # Then it is unchanged and nothing is sent
    assert stored(upload.upload_id).status is UploadStatus.AWAITING_FILE
    assert creation_messages(aws) == []


def test_an_upload_with_errors_is_confirmed_only_skipping_them(aws, directory, lambda_context):
    # Given an upload validated with errors
    upload = validated_upload(chunks=1, status=UploadStatus.VALIDATED_WITH_ERRORS)
    # When it is confirmed without skipping invalid rows, Then it is a conflict and stays as it was
    with pytest.raises(Conflict, match="skipInvalidRows"):
        upload_service.confirm_upload(directory["ridge"], upload.upload_id, False, False, lambda_context)
    assert stored(upload.upload_id).status is UploadStatus.VALIDATED_WITH_ERRORS
    # When it is confirmed skipping them, Then creation starts
    answer = upload_service.confirm_upload(directory["ridge"], upload.upload_id, True, False, lambda_context)
    assert answer.status is UploadStatus.CREATING
    assert stored(upload.upload_id).skip_invalid_rows is True


def test_a_reader_cannot_confirm(aws, directory, lambda_context):
    # Given a validated upload of ridge
    upload = validated_upload(chunks=1)
    # When ridge's Educator confirms it, Then it is refused; lake's admin is told it does not exist
    with pytest.raises(PermissionDenied):
        upload_service.confirm_upload(directory["teacher"], upload.upload_id, False, False, lambda_context)
    with pytest.raises(NotFound):
        upload_service.confirm_upload(directory["lake"], upload.upload_id, False, False, lambda_context)
    # And the upload is untouched
    assert stored(upload.upload_id).status is UploadStatus.VALIDATED
    assert creation_messages(aws) == []


def test_a_confirm_starts_creation(aws, directory, lambda_context):
    # Given a validated upload of 2 chunks
    upload = validated_upload(chunks=2)
    # When ridge's admin confirms it moving existing learners
    answer = upload_service.confirm_upload(directory["ridge"], upload.upload_id, False, True, lambda_context)
    # Then it answers CREATING, the upload is CREATING with the options and the confirmer
    assert answer == upload_service.Confirmed(upload_id=upload.upload_id, status=UploadStatus.CREATING)
    now = stored(upload.upload_id)
    assert now.status is UploadStatus.CREATING
    assert (now.move_existing, now.skip_invalid_rows, now.confirmed_by) == (True, False, "ridge")
    assert now.confirmed_at is not None
    # And one message per chunk is on the creation queue
    messages = creation_messages(aws)
    assert sorted((m["uploadId"], m["chunk"]) for m in messages) == [(upload.upload_id, 0), (upload.upload_id, 1)]
    # And the confirm is audited under ridge
    actions = [e.action for e in audit_store.list_entries(FAC_A1, 20)]
    assert "UPLOAD_CONFIRMED" in actions


def test_an_empty_plan_is_left_to_a_worker_to_finish(aws, directory, lambda_context):
    # Given a validated upload with nothing to create
    upload = validated_upload(chunks=0)
    # When it is confirmed
    upload_service.confirm_upload(directory["ridge"], upload.upload_id, False, False, lambda_context)
    # Then it is CREATING with one message queued, whose worker finishes it (the API writes no report)
    assert creation_messages(aws) == [{"uploadId": upload.upload_id, "chunk": 0, "start": 0}]
    assert stored(upload.upload_id).status is UploadStatus.CREATING
    assert stored(upload.upload_id).result_report_key is None


# ------------------------------------------------------------------ with_links / report_links


def _finished(**changes: object) -> Upload:
    """A completed upload of ridge, confirmed by ridge, with the given report keys."""
    base = validated_upload(chunks=1)
    return base.model_copy(update={"status": UploadStatus.COMPLETED, "confirmed_by": "ridge", **changes})


def _download_name(url: str | None) -> str:
    assert url is not None
    return parse_qs(urlparse(url).query)["response-content-disposition"][0]


def test_no_report_no_link(aws, directory):
    # Given a validated upload with no reports yet
    upload = validated_upload(chunks=1)
    facility = get_facility(directory["ridge"], FAC_A1)
    # When its links are made, Then there are none
    links = upload_service.with_links(upload, directory["ridge"], facility, issue_passwords=True).links
    assert links == upload_service.ReportLinks()


def test_an_error_report_is_linked_to_readers_and_results_only_to_writers(aws, directory):
    # Given a finished upload with both reports
    upload = _finished(
        error_report_key=f"reports/{FAC_A1}/x/errors.csv", result_report_key=f"reports/{FAC_A1}/x/results.csv"
    )
    facility = get_facility(directory["ridge"], FAC_A1)
    # When ridge's Educator gets its links, Then only the error report is linked
    reader = upload_service.report_links(upload, directory["teacher"], facility)
    assert reader.error_report_url is not None and reader.result_report_url is None
    assert upload.error_report_key in reader.error_report_url
    assert f"errors-{upload.upload_id}.csv" in _download_name(reader.error_report_url)
    # When its admin does, Then both are, the results without passwords
    writer = upload_service.report_links(upload, directory["ridge"], facility)
    assert upload.result_report_key in (writer.result_report_url or "")
    assert writer.result_report_has_passwords is False and writer.passwords_until is None


def _with_passwords(until: datetime, confirmed_by: str = "ridge") -> Upload:
    return _finished(
        result_report_key=f"reports/{FAC_A1}/x/results.csv",
        result_passwords_key=f"reports/{FAC_A1}/x/results-passwords.csv",
        passwords_until=until.isoformat(),
        confirmed_by=confirmed_by,
    )


def _issued() -> list[str]:
    return [e.actor for e in audit_store.list_entries(FAC_A1, 50) if e.action == "RESULT_PASSWORDS_ISSUED"]


def test_the_passwords_are_linked_only_to_the_confirmer_within_their_time(aws, directory):
    # Given a completed upload confirmed by ridge, whose results with passwords are kept for another hour
    upload = _with_passwords(datetime.now(UTC) + timedelta(hours=1))
    facility = get_facility(directory["ridge"], FAC_A1)
    # When ridge gets it (issue_passwords, as GET /uploads/{id} does)
    links = upload_service.report_links(upload, directory["ridge"], facility, issue_passwords=True)
    # Then the link is to the copy with passwords, until passwordsUntil, and the issue is audited
    assert upload.result_passwords_key in (links.result_report_url or "")
    assert "passwords" in _download_name(links.result_report_url)
    assert links.result_report_has_passwords is True and links.passwords_until == upload.passwords_until
    assert _issued() == ["ridge"]
    # When north (an admin who may write there, but did not confirm) gets it, Then only the plain results
    other = upload_service.report_links(upload, directory["north"], facility, issue_passwords=True)
    assert upload.result_report_key in (other.result_report_url or "")
    assert upload.result_passwords_key not in (other.result_report_url or "")
    assert other.result_report_has_passwords is False
    # When ridge lists (no issue_passwords), Then only the plain results
    listed = upload_service.report_links(upload, directory["ridge"], facility)
    assert listed.result_report_has_passwords is False
    assert _issued() == ["ridge"]


def test_the_passwords_are_not_linked_past_their_time(aws, directory):
    # Given a completed upload confirmed by ridge whose passwords' time is over
    upload = _with_passwords(datetime.now(UTC) - timedelta(minutes=1))
    facility = get_facility(directory["ridge"], FAC_A1)
    # When ridge gets it, Then only the plain results, and nothing is audited
    links = upload_service.report_links(upload, directory["ridge"], facility, issue_passwords=True)
    assert links.result_report_has_passwords is False and links.passwords_until is None
    assert upload.result_report_key in (links.result_report_url or "")
    assert _issued() == []


def test_a_drops_passwords_go_to_the_first_writer_who_asks_alone(aws, directory):
    # Given a drop's completed upload (no confirming person) whose passwords are still kept, stored as such
    upload = _with_passwords(datetime.now(UTC) + timedelta(hours=1), confirmed_by="drop:nightly")
    item = upload_service.upload_store.UploadItem(uploadId=upload.upload_id)
    item.update(actions=[upload_service.upload_store.UploadItem.resultPasswordsKey.set(upload.result_passwords_key)])
    facility = get_facility(directory["ridge"], FAC_A1)
    # When north asks first, then ridge
    first = upload_service.report_links(upload, directory["north"], facility, issue_passwords=True)
    second = upload_service.report_links(upload, directory["ridge"], facility, issue_passwords=True)
    # Then north got the passwords and is recorded as their one holder; ridge got the plain results
    assert first.result_report_has_passwords is True
    assert second.result_report_has_passwords is False
    assert stored(upload.upload_id).passwords_claimed_by == "north"
