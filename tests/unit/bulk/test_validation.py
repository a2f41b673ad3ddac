"""Validating an uploaded file (intake.bulk.validation.validate_upload) over moto: the upload's status, counts and
issues in the uploads table; plan chunks, error report and raw file in the bucket."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from intake.domain import Upload, UploadStatus
from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, UNIT_A1, UNIT_A1B, UNIT_A2
from tests.integration.bulk_helpers import csv_file

S = UploadStatus


def _s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


def _keys(aws: Any, prefix: str) -> list[str]:
    return [item["Key"] for item in _s3().list_objects_v2(Bucket=aws.bucket, Prefix=prefix).get("Contents", [])]


def _read(aws: Any, key: str) -> bytes:
    return _s3().get_object(Bucket=aws.bucket, Key=key)["Body"].read()


def _put(aws: Any, key: str, data: bytes) -> str:
    return _s3().put_object(Bucket=aws.bucket, Key=key, Body=data)["ETag"].strip('"')


def validating(aws: Any, upload_id: str, data: bytes, source: str = "link") -> Upload:
    """An upload of FAC_A1 whose file (this data) is in the bucket, claimed for validation: VALIDATING."""
    from intake.bulk import keys, lifecycle
    from intake.dal import uploads as upload_store

    key = keys.incoming_key(FAC_A1, upload_id) if source == "link" else f"incoming/{FAC_A1}/{upload_id} roster.csv"
    etag = _put(aws, key, data)
    now = datetime.now(UTC)
    upload = Upload(
        upload_id=upload_id,
        facility_id=FAC_A1,
        agency_id=AGENCY_A,
        source=source,
        object_key=key,
        status=S.AWAITING_FILE,
        created_at=now.isoformat(),
        created_by="ridge",
        expires_at=(now + timedelta(days=7)).isoformat(),
    )
    assert upload_store.insert_upload(upload, ttl=0)
    started = lifecycle.start_validating(upload, etag)
    assert started is not None and started.status is S.VALIDATING
    return started


def stored(upload_id: str) -> Upload:
    from intake.dal import uploads as upload_store

    upload = upload_store.get_upload(upload_id)
    assert upload is not None
    return upload


def validate(upload: Upload, directory: dict[str, Any]) -> Upload | None:
    from intake.bulk.validation import validate_upload

    return validate_upload(upload, directory["ridge"], etag=upload.object_etag)


def plan_objects(aws: Any, upload_id: str) -> list[list[dict[str, Any]]]:
    from intake.bulk import keys

    chunk_keys = sorted(k for k in _keys(aws, keys.plan_prefix(FAC_A1, upload_id)) if "/chunk-" in k)
    return [json.loads(_read(aws, key)) for key in chunk_keys]


def test_a_clean_file_is_validated_into_plan_chunks_in_plan_entry_json(
    aws: Any, directory: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake import passwords
    from intake.bulk import keys
    from intake.bulk.types import CREATE, plan_chunk_of, plan_entry_json
    from intake.dal import keys as key_store
    from intake.settings import get_settings

    # Given chunks of two entries, and a link upload of three good rows, one with a given password
    monkeypatch.setenv("CREATION_CHUNK_SIZE", "2")
    get_settings.cache_clear()
    rows = [
        f"1,800001,Ann,Lee,01/02/1990,Learner,,{UNIT_A1}",
        f"2,800002,Bo,Ray,03/04/1991,Learner,Given-Pass-77,{UNIT_A1B}",
        f"3,800003,Cy,Fox,05/06/1992,Learner,,{UNIT_A1}",
    ]
    upload = validating(aws, "up-clean", csv_file(rows))
    # When it is validated
    result = validate(upload, directory)
    # Then the stored upload is VALIDATED, counting three rows to create in two chunks, with no issue or report
    found = stored("up-clean")
    assert result is not None and result.status is S.VALIDATED and found.status is S.VALIDATED
    assert found.counts["rows"] == 3 and found.counts["valid"] == 3 and found.counts["invalid"] == 0
    assert found.counts["toCreate"] == 3 and found.counts["toMove"] == 0
    assert found.errors == [] and found.warnings == [] and found.error_report_key is None
    assert found.chunks_total == 2 and found.data_key
    assert _keys(aws, f"reports/{FAC_A1}/up-clean/") == []
    # And the plan chunks hold the rows in order, each object exactly PlanEntry's JSON
    chunks = plan_objects(aws, "up-clean")
    assert [len(chunk) for chunk in chunks] == [2, 1]
    entries = [entry for chunk in chunks for entry in plan_chunk_of(chunk)]
    assert [item for chunk in chunks for item in chunk] == [plan_entry_json(entry) for entry in entries]
    assert [(e.line, e.request_id, e.action, e.doc_id) for e in entries] == [
        (2, "1", CREATE, "800001"),
        (3, "2", CREATE, "800002"),
        (4, "3", CREATE, "800003"),
    ]
    assert [(e.location_id, e.facility_id, e.agency_id) for e in entries] == [
        (UNIT_A1, FAC_A1, AGENCY_A),
        (UNIT_A1B, FAC_A1, AGENCY_A),
        (UNIT_A1, FAC_A1, AGENCY_A),
    ]
    assert entries[1].date_of_birth == "03/04/1991" and (entries[1].first_name, entries[1].last_name) == ("Bo", "Ray")
    # And the given password is only in the plan sealed under the upload's data key, bound to its line
    assert entries[0].sealed_password is None and entries[2].sealed_password is None
    assert entries[1].sealed_password is not None and entries[1].password is None
    data_key = key_store.open_data_key("up-clean", found.data_key)
    opened = passwords.unseal(data_key, entries[1].sealed_password, keys.given_password_context("up-clean", 3))
    assert opened == "Given-Pass-77"
    assert all(b"Given-Pass-77" not in _read(aws, key) for key in _keys(aws, "plans/"))
    # And the link's raw file (with its plaintext password) is deleted
    assert _keys(aws, "incoming/") == []


def test_a_file_with_errors_is_validated_with_errors_and_an_error_report(aws: Any, directory: dict[str, Any]) -> None:
    # Given a link upload of two good rows, one without a DOC ID and one with an unknown role
    rows = [
        f"1,810001,Ann,Lee,01/02/1990,Learner,,{UNIT_A1}",
        "2,,Bo,Ray,01/02/1990,Learner,,",
        f"3,810003,Cy,Fox,01/02/1990,Learner,,{UNIT_A1}",
        f"4,810004,Di,Gee,01/02/1990,Teacher,,{UNIT_A1}",
    ]
    upload = validating(aws, "up-errors", csv_file(rows))
    # When it is validated
    result = validate(upload, directory)
    # Then the stored upload is VALIDATED_WITH_ERRORS, naming each problem by line, field and code
    found = stored("up-errors")
    assert result is not None and found.status is S.VALIDATED_WITH_ERRORS
    assert found.counts["rows"] == 4 and found.counts["valid"] == 2 and found.counts["invalid"] == 2
    problems = {(e["line"], e["field"], e["code"]) for e in found.errors}
    assert (3, "docID", "REQUIRED") in problems and (5, "role", "INVALID_ROLE") in problems
    assert all(e["severity"] == "error" for e in found.errors)
    # And the error report is in the bucket, with a line for each of those problems
    assert found.error_report_key == f"reports/{FAC_A1}/up-errors/errors.csv"
    assert _keys(aws, f"reports/{FAC_A1}/up-errors/") == [found.error_report_key]
    report = list(csv.reader(io.StringIO(_read(aws, found.error_report_key).decode("utf-8-sig"))))
    reported = " ".join(",".join(line) for line in report[1:])
    assert "REQUIRED" in reported and "INVALID_ROLE" in reported and len(report) - 1 >= 2
    # And only the good rows are planned
    assert [entry["docId"] for chunk in plan_objects(aws, "up-errors") for entry in chunk] == ["810001", "810003"]
    assert found.chunks_total == 1


def test_a_too_large_file_is_rejected_unread(
    aws: Any, directory: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from intake.dal import directory as locations
    from intake.dal import objects

    opened: list[str] = []
    real_open = objects.open_object
    monkeypatch.setattr(objects, "open_object", lambda key, etag=None: opened.append(key) or real_open(key, etag))

    # Given the facility allows 100 bytes per upload, and a link upload of a larger file
    facility = locations.get_location(FAC_A1)
    assert facility is not None
    locations.put_location(facility.model_copy(update={"max_upload_bytes": 100}))
    rows = [f"{i},82000{i},Ann,Lee,01/02/1990,Learner,,{UNIT_A1}" for i in range(1, 6)]
    data = csv_file(rows)
    assert len(data) > 100
    upload = validating(aws, "up-large", data)
    # When it is validated
    result = validate(upload, directory)
    # Then it is REJECTED with one file error TOO_LARGE, reported, its raw file deleted and nothing planned
    found = stored("up-large")
    assert result is not None and found.status is S.REJECTED
    assert [(e["line"], e["code"]) for e in found.errors] == [(0, "TOO_LARGE")]
    assert found.errors[0]["message"] == "The file is larger than 100 bytes: split it"
    assert found.error_report_key is not None and _keys(aws, "reports/") == [found.error_report_key]
    assert _keys(aws, "incoming/") == [] and _keys(aws, "plans/") == []
    # And the file was never opened: its size alone decided
    assert opened == []


def test_a_file_that_is_not_a_csv_is_rejected(aws: Any, directory: dict[str, Any]) -> None:
    # Given a link upload of a PNG
    upload = validating(aws, "up-png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    # When validated, Then REJECTED as NOT_CSV, its raw file deleted and no plan written
    result = validate(upload, directory)
    found = stored("up-png")
    assert result is not None and found.status is S.REJECTED
    assert [(e["line"], e["code"]) for e in found.errors] == [(0, "NOT_CSV")]
    assert _keys(aws, "incoming/") == [] and _keys(aws, "plans/") == []


def test_a_missing_object_fails_the_upload(aws: Any, directory: dict[str, Any]) -> None:
    from intake.bulk.validation import GONE_REASON

    # Given an upload claimed for its file, and the file deleted since
    upload = validating(aws, "up-gone", csv_file([f"1,830001,Ann,Lee,01/02/1990,Learner,,{UNIT_A1}"]))
    _s3().delete_object(Bucket=aws.bucket, Key=upload.object_key)
    # When it is validated
    result = validate(upload, directory)
    # Then the stored upload is FAILED, saying why, with nothing planned or reported
    found = stored("up-gone")
    assert result is not None and found.status is S.FAILED and found.reason == GONE_REASON
    assert _keys(aws, "plans/") == [] and _keys(aws, "reports/") == []


def test_a_replaced_object_fails_the_upload_and_leaves_the_new_file(aws: Any, directory: dict[str, Any]) -> None:
    from intake.bulk.validation import GONE_REASON

    # Given a drop claimed for one version of its file, and a new file put at the same key since
    upload = validating(aws, "up-replaced", csv_file([f"1,840001,A,B,01/02/1990,Learner,,{UNIT_A1}"]), "drop")
    newer = csv_file([f"1,840002,C,D,01/02/1990,Learner,,{UNIT_A1}"])
    _put(aws, upload.object_key, newer)
    # When the claimed version is validated
    result = validate(upload, directory)
    # Then the upload is FAILED, nothing is planned, and the newer file (another drop's) is still there
    found = stored("up-replaced")
    assert result is not None and found.status is S.FAILED and found.reason == GONE_REASON
    assert _keys(aws, "plans/") == []
    assert _read(aws, upload.object_key) == newer


@pytest.mark.parametrize(("source", "raw_kept"), [("link", False), ("drop", True)])
def test_after_validation_a_links_raw_file_is_deleted_and_a_drops_kept(
    aws: Any, directory: dict[str, Any], source: str, raw_kept: bool
) -> None:
    # Given an upload of one good row, by link or by drop
    data = csv_file([f"1,850001,Ann,Lee,01/02/1990,Learner,Given-Pass-77,{UNIT_A1}"])
    upload = validating(aws, f"up-{source}", data, source)
    # When validated
    result = validate(upload, directory)
    # Then it is VALIDATED with its plan, and the raw file is gone for a link, kept (unchanged) for a drop
    assert result is not None and stored(f"up-{source}").status is S.VALIDATED
    assert len(plan_objects(aws, f"up-{source}")) == 1
    assert _keys(aws, "incoming/") == ([upload.object_key] if raw_kept else [])
    if raw_kept:
        assert _read(aws, upload.object_key) == data


def test_an_upload_no_longer_validating_is_left_as_it_is(aws: Any, directory: dict[str, Any]) -> None:
    from intake.bulk import lifecycle

    # Given an upload claimed for validation and then failed (replaced) by another event meanwhile
    upload = validating(aws, "up-late", csv_file([f"1,860001,Ann,Lee,01/02/1990,Learner,,{UNIT_A1}"]), "drop")
    assert lifecycle.fail_replaced(upload, "replaced") is not None
    newer = csv_file([f"1,860002,Ann,Lee,01/02/1990,Learner,,{UNIT_A1}"])
    _put(aws, upload.object_key, newer)
    # When the first validation goes on, against its own (gone) version
    result = validate(upload, directory)
    # Then the upload stays FAILED with the first reason, nothing is planned, and the newer file is left alone
    found = stored("up-late")
    assert found.status is S.FAILED and found.reason == "replaced"
    assert result is None or result.status is S.FAILED
    assert _keys(aws, "plans/") == [] and _read(aws, upload.object_key) == newer


def test_the_record_keeps_the_first_hundred_errors_and_the_report_has_them_all(
    aws: Any, directory: dict[str, Any]
) -> None:
    from intake.bulk.validation import KEPT_ISSUES

    # Given a link upload of one good row and 150 rows without a DOC ID
    rows = [f"1,870001,Ann,Lee,01/02/1990,Learner,,{UNIT_A1}"]
    rows += [f"{i},,Bo,Ray,01/02/1990,Learner,,{UNIT_A1}" for i in range(2, 152)]
    upload = validating(aws, "up-many", csv_file(rows))
    # When validated
    validate(upload, directory)
    # Then the record counts all 150 invalid rows but keeps only the first hundred errors, in line order
    found = stored("up-many")
    assert found.status is S.VALIDATED_WITH_ERRORS and found.counts["invalid"] == 150
    assert len(found.errors) == KEPT_ISSUES == 100
    assert [e["line"] for e in found.errors] == list(range(3, 103))
    # And the error report in the bucket has a line for every one of them
    assert found.error_report_key is not None
    report = list(csv.DictReader(io.StringIO(_read(aws, found.error_report_key).decode("utf-8-sig"))))
    assert len(report) == 150
    assert [entry["docId"] for chunk in plan_objects(aws, "up-many") for entry in chunk] == ["870001"]


def test_a_learner_at_another_facility_is_planned_as_a_move(aws: Any, directory: dict[str, Any]) -> None:
    from intake import learner_creation
    from intake.bulk.types import MOVE, plan_chunk_of

    # Given a learner of the agency at the lake facility
    learner = learner_creation.new_learner(
        agency_id=AGENCY_A,
        doc_id="880001",
        first_name="Al",
        last_name="Bo",
        date_of_birth="01/01/1990",
        location_id=UNIT_A2,
        facility_id=FAC_A2,
        created_by="lake",
    )
    learner_creation.insert(learner, "Lake-pass-123")
    # When the ridge facility's upload naming them is validated
    upload = validating(aws, "up-move", csv_file([f"1,880001,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    validate(upload, directory)
    # Then it is VALIDATED with one move planned, the entry naming where the learner was seen
    found = stored("up-move")
    assert found.status is S.VALIDATED and found.counts["toMove"] == 1 and found.counts["toCreate"] == 0
    [chunk] = plan_objects(aws, "up-move")
    [entry] = plan_chunk_of(chunk)
    assert entry.action == MOVE and entry.existing is not None
    assert tuple(entry.existing)[:4] == (learner.learner_id, UNIT_A2, FAC_A2, "ACTIVE")
    assert (entry.location_id, entry.facility_id) == (UNIT_A1, FAC_A1)
    assert chunk[0]["existing"] == {
        "learnerId": learner.learner_id,
        "locationId": UNIT_A2,
        "facilityId": FAC_A2,
        "status": "ACTIVE",
    }


def test_an_inactive_learner_of_the_agency_is_planned_as_a_reactivation(aws: Any, directory: dict[str, Any]) -> None:
    from intake import clock, learner_creation
    from intake.bulk.types import REACTIVATE, plan_chunk_of
    from intake.dal import learners as learner_store
    from intake.domain import HistoryKind, LearnerStatus, history_entry

    # Given a learner of the agency deactivated at the lake facility
    learner = learner_creation.new_learner(
        agency_id=AGENCY_A,
        doc_id="880002",
        first_name="Al",
        last_name="Bo",
        date_of_birth="01/01/1990",
        location_id=UNIT_A2,
        facility_id=FAC_A2,
        created_by="lake",
    )
    learner_creation.insert(learner, "Lake-pass-123")
    gone = history_entry(HistoryKind.DEACTIVATED, clock.utc_now(), "lake")
    assert learner_store.set_status(learner, LearnerStatus.INACTIVE, gone) is not None
    # When the ridge facility's upload naming them is validated
    upload = validating(aws, "up-back", csv_file([f"1,880002,Al,Bo,01/01/1990,Learner,,{UNIT_A1}"]))
    validate(upload, directory)
    # Then it is VALIDATED (no error) with one reactivation planned, naming the learner as it was seen
    found = stored("up-back")
    assert found.status is S.VALIDATED and found.errors == []
    assert (found.counts["toReactivate"], found.counts["toMove"], found.counts["toCreate"]) == (1, 0, 0)
    [chunk] = plan_objects(aws, "up-back")
    [entry] = plan_chunk_of(chunk)
    assert entry.action == REACTIVATE
    assert tuple(entry.existing or ())[:4] == (learner.learner_id, UNIT_A2, FAC_A2, "INACTIVE")


def test_a_file_with_only_warnings_is_validated_and_reports_the_warnings(aws: Any, directory: dict[str, Any]) -> None:
    from intake import learner_creation

    # Given a learner 0045123 elsewhere in the agency, and a file naming them as 45123 (Excel lost the zeros)
    learner = learner_creation.new_learner(
        agency_id=AGENCY_A,
        doc_id="0045123",
        first_name="Al",
        last_name="Bo",
        date_of_birth="01/01/1990",
        location_id=UNIT_A2,
        facility_id=FAC_A2,
        created_by="lake",
    )
    learner_creation.insert(learner, "Lake-pass-123")
    rows = [f"1,45123,Al,Bo,01/01/1990,Learner,,{UNIT_A1}", f"2,7712345,Cy,Fox,01/02/1990,Learner,,{UNIT_A1}"]
    upload = validating(aws, "up-warn", csv_file(rows))
    # When validated
    validate(upload, directory)
    # Then it is VALIDATED (a warning blocks nothing), with the warning kept and no error
    found = stored("up-warn")
    assert found.status is S.VALIDATED and found.errors == [] and found.counts["warnings"] == 1
    assert [(w["line"], w["field"], w["code"]) for w in found.warnings] == [(2, "docID", "DOC_ID_LEADING_ZEROS")]
    # And the issues report holds that warning too
    assert found.error_report_key == f"reports/{FAC_A1}/up-warn/errors.csv"
    assert "DOC_ID_LEADING_ZEROS" in _read(aws, found.error_report_key).decode("utf-8-sig")
    assert sum(len(chunk) for chunk in plan_objects(aws, "up-warn")) == 2


def test_two_validations_of_one_upload_at_once_seal_with_the_one_key_it_keeps(
    aws: Any, directory: dict[str, Any]
) -> None:
    from intake import passwords
    from intake.bulk import keys
    from intake.bulk.types import plan_chunk_of
    from intake.dal import keys as key_store
    from intake.dal import uploads as upload_store

    # Given an upload claimed by two validations at once (its event redelivered while the first still ran): both
    # read it without a data key, and the other one kept its key first
    rows = [f"1,800011,Bo,Ray,03/04/1991,Learner,Given-Pass-77,{UNIT_A1}"]
    upload = validating(aws, "up-twice", csv_file(rows))
    assert upload.data_key is None
    _, theirs = key_store.new_data_key("up-twice")
    assert upload_store.keep_data_key("up-twice", theirs) == theirs
    # When this one validates the file, writing the same plan chunk
    result = validate(upload, directory)
    # Then it sealed the given password with the key the upload keeps, not one of its own
    assert result is not None and result.data_key == theirs and stored("up-twice").data_key == theirs
    (chunk,) = plan_objects(aws, "up-twice")
    (entry,) = plan_chunk_of(chunk)
    assert entry.sealed_password is not None
    opened = passwords.unseal(
        key_store.open_data_key("up-twice", theirs), entry.sealed_password, keys.given_password_context("up-twice", 2)
    )
    assert opened == "Given-Pass-77"


def test_a_validation_again_of_an_upload_that_keeps_a_key_makes_none(aws: Any, directory: dict[str, Any]) -> None:
    from intake.dal import keys as key_store
    from intake.dal import uploads as upload_store

    # Given an upload whose first validation kept a data key and stopped (it is claimed again, as read now)
    rows = [f"1,800012,Cy,Fox,05/06/1992,Learner,,{UNIT_A1}"]
    first = validating(aws, "up-again", csv_file(rows))
    _, kept = key_store.new_data_key("up-again")
    upload_store.keep_data_key("up-again", kept)
    again = stored("up-again")
    # When it is validated again, Then it uses the kept key (no new one): the upload keeps it
    assert validate(again, directory) is not None
    assert stored("up-again").data_key == kept and first.data_key is None
