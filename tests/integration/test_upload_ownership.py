"""Issue 13, findings 1, 8, 14 and 15 over moto: an upload belongs to its facility and takes one object, objects
Intake ignores are deleted at once, and a facility's uploads are listed a page at a time."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import FAC_A1, FAC_A2, UNIT_A1, UNIT_A1B, UNIT_A2
from tests.integration.bulk_helpers import csv_file, drain, keys_under, put_object


def _s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


def _link(call_api, user: str, facility_id: str = FAC_A1) -> tuple[str, str]:
    status, body, _ = call_api("POST", "/uploads", user, {"facilityId": facility_id})
    assert status == 201
    return body["uploadId"], body["upload"]["fields"]["key"]


def _put(aws, key: str, data: bytes) -> str:
    """Put an object and return its ETag (without quotes), as the S3 event carries it."""
    return _s3().put_object(Bucket=aws.bucket, Key=key, Body=data)["ETag"].strip('"')


def _discard_events(aws) -> None:
    """Drop the queued object events: the test delivers them itself, in the order it chooses."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.purge_queue(QueueUrl=aws.queue_urls["ValidationQueue"])


def _learners(call_api, doc_id: str) -> list[dict]:
    status, found, _ = call_api("GET", "/learners", "sys", query={"docId": doc_id})
    assert status == 200
    return found["learners"]


# ------------------------------------------------------------------ finding 1: an upload belongs to its facility


@pytest.mark.parametrize("uploader", ["north", "sys"])
def test_an_upload_for_one_facility_creates_nobody_at_another(call_api, aws, directory, uploader):
    # Given an upload link for ridge asked by staff who may also write in lake (an AgencyAdmin, a SystemAdmin), and a
    # file with a ridge row, a row for a housing unit of lake and a row for lake itself (blank passwords)
    upload_id, key = _link(call_api, uploader)
    rows = [
        f"1,810001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}",
        f"2,810002,Cy,Do,01/01/1990,Learner,,{UNIT_A2}",
        f"3,810003,Ed,Fa,01/01/1990,Learner,,{FAC_A2}",
    ]
    put_object(aws, key, csv_file(rows))
    drain(aws)
    # When ridge's FacilityAdmin alone reads and confirms it, skipping invalid rows
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert upload["status"] == "VALIDATED_WITH_ERRORS" and upload["counts"]["toCreate"] == 1
    errors = {(e["line"], e["code"]) for e in upload["errors"]}
    assert errors == {(3, "WRONG_FACILITY"), (4, "WRONG_FACILITY")}
    assert all("put this row in an upload for that facility" in e["message"] for e in upload["errors"])
    assert FAC_A2 in upload["errors"][0]["message"]
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {"skipInvalidRows": True})[0] == 202
    drain(aws)
    # Then only the ridge learner exists, and nobody was created at lake
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED" and done["counts"]["created"] == 1
    assert [learner["facilityId"] for learner in _learners(call_api, "810001")] == [FAC_A1]
    assert _learners(call_api, "810002") == [] and _learners(call_api, "810003") == []


def test_a_drop_row_for_another_facility_is_an_error(call_api, aws, directory):
    # Given ridge's drop with a row of lake
    put_object(aws, f"incoming/{FAC_A1}/nightly.csv", csv_file([f"1,811001,Al,Bo,01/01/1990,Learner,,{UNIT_A2}"]))
    drain(aws)
    # Then the row is an error (outside the drop's scope) and nothing is planned
    _, listing, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")
    (upload,) = listing["uploads"]
    assert upload["status"] == "VALIDATED_WITH_ERRORS" and upload["counts"]["toCreate"] == 0
    assert [e["code"] for e in upload["errors"]] == ["PERMISSION_DENIED"]


def test_confirm_needs_write_permission_on_the_uploads_facility(call_api, aws, directory):
    # Given a validated upload of ridge
    upload_id, key = _link(call_api, "north")
    put_object(aws, key, csv_file([f"1,812001,Al,Bo,01/01/1990,Learner,,{UNIT_A1B}"]))
    drain(aws)
    # When an Educator of ridge, or a FacilityAdmin of lake, confirms it
    teacher = call_api("POST", f"/uploads/{upload_id}/confirm", "teacher", {})
    lake = call_api("POST", f"/uploads/{upload_id}/confirm", "lake", {})
    # Then the Educator gets 403 and lake's admin 404, and the upload is untouched
    assert (teacher[0], teacher[1]["code"]) == (403, "PERMISSION_DENIED")
    assert (lake[0], lake[1]["code"]) == (404, "NOT_FOUND")
    assert call_api("GET", f"/uploads/{upload_id}", "ridge")[1]["status"] == "VALIDATED"
    assert _learners(call_api, "812001") == []


# ------------------------------------------------------------------ finding 8: one link, one object


def test_a_second_file_to_a_validated_link_is_refused_and_deleted(call_api, aws, directory):
    # Given a link upload validated from a file of one learner
    upload_id, key = _link(call_api, "ridge")
    put_object(aws, key, csv_file([f"1,820001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    drain(aws)
    assert call_api("GET", f"/uploads/{upload_id}", "ridge")[1]["counts"]["toCreate"] == 1
    # When a second, different file is posted with the same link (it replaces the first at the key)
    put_object(aws, key, csv_file([f"{n},82100{n},Cy,Do,01/01/1990,Learner,,{UNIT_A1}" for n in range(1, 4)]))
    drain(aws)
    # Then the second object is deleted, and the upload fails (its own file is gone) instead of using either file
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert upload["status"] == "FAILED" and "second file" in upload["reason"]
    assert upload["counts"]["toCreate"] == 1  # the counts are still the first file's, never the second's
    assert keys_under(aws, "incoming/") == [] and keys_under(aws, f"plans/{FAC_A1}/{upload_id}/") == []
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 409
    assert _learners(call_api, "820001") == [] and _learners(call_api, "821001") == []


def _two_files_before_validation(call_api: Any, aws: Any, series: int) -> tuple[str, str, str, str]:
    """A link, a file of one row (DOC ID {series}0001) posted to it, then a file of three ({series}100n) replacing it,
    their events not yet handled: (uploadId, key, first ETag, second ETag)."""
    upload_id, key = _link(call_api, "ridge")
    first = _put(aws, key, csv_file([f"1,{series}0001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    rows = [f"{n},{series}100{n},Cy,Do,01/01/1990,Learner,,{UNIT_A1}" for n in range(1, 4)]
    second = _put(aws, key, csv_file(rows))
    _discard_events(aws)
    return upload_id, key, first, second


def test_two_files_before_validation_first_event_first(call_api, aws, directory):
    # Given two files posted with one link before any validation (the second replaced the first at the key)
    from intake.bulk.arrivals import validate_object

    upload_id, key, first, second = _two_files_before_validation(call_api, aws, 83)
    # When the first file's event is handled, then the second's
    validate_object(key, first)
    validate_object(key, second)
    # Then the first claimed the upload, could not read its own file, and the second file was refused and deleted:
    # the upload fails with no plan, nothing left in incoming/, and no counts of the second file
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert upload["status"] == "FAILED" and upload["counts"]["rows"] == 0
    assert keys_under(aws, "incoming/") == [] and keys_under(aws, "plans/") == []


def test_two_files_before_validation_second_event_first(call_api, aws, directory):
    # Given two files posted with one link before any validation
    from intake.bulk.arrivals import validate_object

    upload_id, key, first, second = _two_files_before_validation(call_api, aws, 84)
    # When the second (current) file's event is handled first, then the first's, then the second's again
    validate_object(key, second)
    validate_object(key, first)
    validate_object(key, second)  # a redelivered event of the claimed object re-enters harmlessly
    # Then the upload is the second file's alone: its counts, and the late first event changed nothing
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert upload["status"] == "VALIDATED" and upload["counts"]["rows"] == 3 and upload["counts"]["toCreate"] == 3
    # (the validated file itself is deleted at once: its plan holds all creation needs, passwords sealed)
    assert keys_under(aws, "incoming/") == []
    # And confirming creates exactly what was counted
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED" and done["counts"]["created"] == 3
    assert _learners(call_api, "840001") == []


def test_a_file_to_a_finished_link_upload_is_deleted(call_api, aws, directory):
    # Given a link upload completed (its raw file is deleted at the end)
    upload_id, key = _link(call_api, "ridge")
    put_object(aws, key, csv_file([f"1,850001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    drain(aws)
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    # When the link is used again, with the same file and with another one
    for data in (csv_file([f"1,850001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]), csv_file(["1,850002,Al,Bo,,,,"])):
        put_object(aws, key, data)
        drain(aws)
        # Then the object is gone at once and the upload is unchanged
        assert keys_under(aws, "incoming/") == []
        _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
        assert upload["status"] == "COMPLETED" and upload["counts"]["created"] == 1


# ------------------------------------------------------------------ finding 14: ignored objects are deleted


@pytest.mark.parametrize(
    "key", ["incoming/no-such-facility/roster.csv", f"incoming/{UNIT_A1}/roster.csv", "incoming/roster.csv"]
)
def test_an_object_intake_ignores_is_deleted_at_once(aws, directory, key):
    # Given an object under an unknown facility's prefix, a housing unit's prefix, or no facility at all
    put_object(aws, key, csv_file(["1,860001,Al,Bo,01/01/1990,Learner,Secret-Pass1,x"]))
    # When its event is handled
    drain(aws)
    # Then it is gone (it held a password), and no upload was made of it
    assert keys_under(aws, "incoming/") == []


def test_a_late_event_of_a_replaced_drop_file_deletes_nothing(call_api, aws, directory):
    # Given a drop file replaced by a newer one at the same key before the first event is handled
    from intake.bulk.arrivals import validate_object

    key = f"incoming/{FAC_A1}/roster.csv"
    older = _put(aws, key, csv_file([f"1,870001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    newer = _put(aws, key, csv_file([f"1,870002,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    _discard_events(aws)
    # When the newer file's event is handled, then the older one's, late
    validate_object(key, newer)
    validate_object(key, older)
    # Then the newer file is kept for its upload, which is the only one
    assert keys_under(aws, "incoming/") == [key]
    assert _s3().head_object(Bucket=aws.bucket, Key=key)["ETag"].strip('"') == newer
    _, listing, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")
    assert [(u["status"], u["counts"]["rows"]) for u in listing["uploads"]] == [("VALIDATED", 1)]


def test_a_rejected_older_drop_does_not_delete_a_newer_file_at_its_key(call_api, aws, directory):
    # Given a drop that is rejected, and a newer file dropped at the same key while it was being checked
    from intake.bulk import arrivals, lifecycle

    key = f"incoming/{FAC_A1}/roster.csv"
    older = _put(aws, key, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    _discard_events(aws)
    upload, _ = arrivals.upload_for_object(key, older)
    started = lifecycle.start_validating(upload, older)
    newer = _put(aws, key, csv_file([f"1,871001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    # When the older one is rejected (its delete of the raw file runs after the newer file landed)
    lifecycle.reject(started, "NOT_CSV", "not a CSV")
    # Then the newer file is still there for its own upload
    assert _s3().head_object(Bucket=aws.bucket, Key=key)["ETag"].strip('"') == newer


# ------------------------------------------------------------------ finding 15: paged upload lists


def _seed_uploads(facility_id: str, count: int) -> list[str]:
    """count uploads of a facility, one minute apart; their ids, newest first."""
    from intake.dal import uploads as upload_store
    from intake.domain import Upload, UploadStatus

    start = datetime.now(UTC) - timedelta(days=1)
    ids = []
    for n in range(count):
        created = start + timedelta(minutes=n)
        upload_id = f"{facility_id}-{n:04d}"
        upload_store.insert_upload(
            Upload(
                upload_id=upload_id,
                facility_id=facility_id,
                agency_id="ag-north",
                source="link",
                object_key=f"incoming/{facility_id}/{upload_id}.csv",
                status=UploadStatus.AWAITING_FILE,
                created_at=created.isoformat(),
                created_by="ridge",
                expires_at=(created + timedelta(days=30)).isoformat(),
            ),
            ttl=0,
        )
        ids.append(upload_id)
    return ids[::-1]


@pytest.fixture
def queries(monkeypatch) -> list[str]:
    """The table names of every DynamoDB Query pynamodb sends."""
    from pynamodb.connection.base import Connection

    sent: list[str] = []
    real = Connection.query

    def spy(self, table_name, *args, **kwargs):
        sent.append(table_name)
        return real(self, table_name, *args, **kwargs)

    monkeypatch.setattr(Connection, "query", spy)
    return sent


def test_uploads_are_listed_a_page_at_a_time_newest_first(call_api, aws, directory, queries):
    # Given 120 uploads of ridge (and some of lake)
    expected = _seed_uploads(FAC_A1, 120)
    _seed_uploads(FAC_A2, 3)
    # When ridge's admin pages through them with the default limit
    pages, cursor = [], None
    while True:
        queries.clear()
        status, body, _ = call_api(
            "GET", f"/facilities/{FAC_A1}/uploads", "ridge", query={"cursor": cursor} if cursor else None
        )
        assert status == 200 and len(queries) == 1  # one DynamoDB Query per page
        pages.append([u["uploadId"] for u in body["uploads"]])
        cursor = body.get("nextCursor")
        if cursor is None:
            break
    # Then 3 pages of 50, 50 and 20, newest first, none twice, none missing, and no cursor after the last
    assert [len(page) for page in pages] == [50, 50, 20]
    assert [upload_id for page in pages for upload_id in page] == expected
    # And a limit up to 200 gives them all at once
    status, body, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge", query={"limit": "200"})
    assert status == 200 and len(body["uploads"]) == 120 and "nextCursor" not in body
    status, body, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge", query={"limit": "7"})
    assert [u["uploadId"] for u in body["uploads"]] == expected[:7] and body["nextCursor"]


def _cursor_of(call_api, facility_id: str, user: str) -> str:
    _, body, _ = call_api("GET", f"/facilities/{facility_id}/uploads", user, query={"limit": "1"})
    return body["nextCursor"]


def _encoded(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_tampered_or_foreign_cursor_or_bad_limit_is_400(call_api, aws, directory):
    # Given uploads at ridge and at lake, and a cursor of each
    _seed_uploads(FAC_A1, 3)
    _seed_uploads(FAC_A2, 3)
    ridge_cursor = _cursor_of(call_api, FAC_A1, "ridge")
    lake_cursor = _cursor_of(call_api, FAC_A2, "lake")
    (facility, created_at, upload_id) = json.loads(base64.urlsafe_b64decode(ridge_cursor + "=="))
    tampered = [
        lake_cursor,  # another facility's
        _encoded([FAC_A2, created_at, upload_id]),  # ridge's position relabelled for lake
        ridge_cursor[:-2],  # cut
        ridge_cursor + "x",
        "not a cursor",
        _encoded([facility, "yesterday", upload_id]),
        _encoded([facility, created_at, {"S": "x"}]),
        _encoded({"facilityId": facility}),
        _encoded([facility, created_at, upload_id, "extra"]),
        "A" * 600,
    ]
    # When ridge's admin lists with each, or with a bad limit
    for cursor in tampered:
        status, body, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "north", query={"cursor": cursor})
        # Then each is 400 VALIDATION_FAILED naming the cursor
        assert (status, body["code"]) == (400, "VALIDATION_FAILED"), cursor
        assert body["errors"][0]["field"] == "cursor"
    for limit in ("0", "201", "-1", "ten", "1.5"):
        status, body, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge", query={"limit": limit})
        assert (status, body["code"]) == (400, "VALIDATION_FAILED"), limit
    # And the good cursor still works
    status, body, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge", query={"cursor": ridge_cursor})
    assert status == 200 and len(body["uploads"]) == 2
