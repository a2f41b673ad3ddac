"""Issue 13, findings 3, 4, 5, 9, 13 and 1 (defence in depth): where passwords live, and for whom and how long."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, UNIT_A1, UNIT_A2
from tests.integration.bulk_helpers import csv_file, drain, get_text, keys_under, put_object

GIVEN = ["Given-Pass-0001!", "Given-Pass-0002!"]


def _all_objects(aws: Any) -> dict[str, str]:
    return {key: get_text(aws, key) for key in keys_under(aws, "")}


def _upload(call_api: Any, aws: Any, rows: list[str], user: str = "ridge") -> str:
    status, body, _ = call_api("POST", "/uploads", user, {"facilityId": FAC_A1})
    assert status == 201
    put_object(aws, body["upload"]["fields"]["key"], csv_file(rows))
    drain(aws)
    return str(body["uploadId"])


def _rows() -> list[str]:
    return [
        f"g1,810001,Ann,Lee,01/02/1990,Learner,{GIVEN[0]},{UNIT_A1}",
        f"g2,810002,Bea,Lee,01/02/1990,Learner,{GIVEN[1]},{UNIT_A1}",
        f"b1,810003,Cal,Lee,01/02/1990,Learner,,{UNIT_A1}",
    ]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_a_validated_upload_keeps_no_plaintext_password(call_api, aws, directory):
    # Given a link upload with given passwords, validated and never confirmed
    upload_id = _upload(call_api, aws, _rows())
    _, view, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert view["status"] == "VALIDATED"
    # Then no object of the bucket holds a given password (the plan seals them; the raw file is gone)
    objects = _all_objects(aws)
    assert any(key.startswith(f"plans/{FAC_A1}/{upload_id}/") for key in objects)
    assert not [key for key, text in objects.items() if any(p in text for p in GIVEN)]
    assert keys_under(aws, "incoming/") == []
    # And the upload record keeps only the KMS-encrypted data key
    from intake.dal.uploads import get_upload

    stored = get_upload(upload_id)
    assert stored is not None and stored.data_key and all(p not in stored.data_key for p in GIVEN)


def test_kms_decrypt_failing_retries_the_chunk_and_creates_each_once(call_api, aws, directory, monkeypatch):
    from tests.integration.fault_injection import Rule, install

    # Given a validated upload with given and blank passwords, and KMS Decrypt failing (every SDK attempt) once
    upload_id = _upload(call_api, aws, _rows())
    faults = install(monkeypatch)
    rule = faults.add(Rule("kms", "Decrypt", times=5))
    # When it is confirmed and the queue drained (the failed chunk message comes back)
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    faults.armed = False
    # Then the failure was hit, and every learner exists once with the password results.csv says
    assert rule.fired == 5
    _assert_created_once(call_api, aws, upload_id, ["810001", "810002", "810003"])


def _assert_created_once(call_api: Any, aws: Any, upload_id: str, doc_ids: list[str]) -> list[dict[str, str]]:
    from intake.dal.learners import stored_password_hash
    from intake.dal.tables import LearnerItem
    from intake.passwords import verify_password

    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED", done
    assert done["counts"]["created"] == len(doc_ids)
    learners = [item for item in LearnerItem.query(AGENCY_A) if item.uploadId == upload_id]
    assert sorted(item.docId for item in learners) == sorted(doc_ids)
    results = _csv(get_text(aws, f"passwords/{FAC_A1}/{upload_id}/results.csv"))
    assert sorted(r["docID"] for r in results) == sorted(doc_ids)
    for row in results:
        password = row["password"] or GIVEN[int(row["docID"][-1]) - 1]
        assert verify_password(stored_password_hash(AGENCY_A, row["docID"]) or "", password), row["docID"]
    assert keys_under(aws, "plans/") == [] and keys_under(aws, "incoming/") == []
    return results


def test_a_tampered_sealed_password_fails_its_row_and_creates_nothing(call_api, aws, directory):
    from intake.dal.tables import LearnerItem

    # Given a validated upload whose plan's sealed password was changed
    upload_id = _upload(call_api, aws, _rows())
    key = f"plans/{FAC_A1}/{upload_id}/chunk-000000.json"
    plan = json.loads(get_text(aws, key))
    plan[0]["sealedPassword"] = plan[1]["sealedPassword"]  # another row's: bound to its own line, it cannot open
    aws_s3 = __import__("boto3").client("s3", region_name="us-east-1")
    aws_s3.put_object(Bucket=aws.bucket, Key=key, Body=json.dumps(plan).encode())
    # When it is confirmed
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    # Then that row failed with a clear message, the others were created, and the failed row's learner does not exist
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["status"] == "COMPLETED_WITH_ERRORS" and done["counts"]["failed"] == 1
    results = {r["docID"]: r for r in _csv(get_text(aws, f"reports/{FAC_A1}/{upload_id}/results.csv"))}
    assert results["810001"]["outcome"] == "FAILED" and "could not be read" in results["810001"]["message"]
    assert "810001" not in {item.docId for item in LearnerItem.query(AGENCY_A)}


def test_two_concurrent_deliveries_of_one_chunk_issue_one_password_per_learner(call_api, aws, directory, monkeypatch):
    from intake import passwords
    from intake.bulk import creation
    from intake.dal.learners import stored_password_hash
    from intake.dal.uploads import UploadChange, get_upload, transition
    from intake.domain import UploadStatus
    from intake.passwords import verify_password

    # Given a validated upload of blank passwords, moved to CREATING without fanning out
    rows = [f"b{i},82000{i},Dee,Lee,01/02/1990,Learner,,{UNIT_A1}" for i in range(1, 5)]
    upload_id = _upload(call_api, aws, rows)
    upload = get_upload(upload_id)
    assert upload is not None
    transition(
        upload_id, {upload.status}, UploadStatus.CREATING, UploadChange(confirmed_by="ridge", move_existing=False)
    )
    # And both deliveries forced to hash every row before either writes it (a barrier in the hashing)
    barrier = threading.Barrier(2, timeout=30)
    real_hash = passwords.hash_password

    def hash_in_step(password: str) -> str:
        hashed = real_hash(password)
        barrier.wait()
        return hashed

    monkeypatch.setattr(passwords, "hash_password", hash_in_step)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            creation.process_chunk(upload_id, 0, 0, lambda: 900_000)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Then both finished, each learner exists once, and each password in results.csv verifies against its hash
    assert errors == [] and not barrier.broken
    done = get_upload(upload_id)
    assert done is not None and done.status is UploadStatus.COMPLETED and done.counts["created"] == 4
    results = _csv(get_text(aws, f"passwords/{FAC_A1}/{upload_id}/results.csv"))
    assert sorted(r["docID"] for r in results) == [f"82000{i}" for i in range(1, 5)]
    for row in results:
        assert row["password"] and verify_password(stored_password_hash(AGENCY_A, row["docID"]) or "", row["password"])


def test_passwords_are_for_the_confirmer_for_24_hours_then_gone(call_api, aws, directory, monkeypatch):
    from intake import clock
    from intake.bulk.expiry import sweep_expired
    from intake.dal.audit import list_entries

    # Given an upload confirmed by ridge and created
    upload_id = _upload(call_api, aws, _rows())
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    # When the confirmer and another writer of the facility (its AgencyAdmin) read it
    _, mine, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    _, theirs, _ = call_api("GET", f"/uploads/{upload_id}", "north")
    # Then the confirmer's link has the generated password, the other's has the same outcomes without passwords
    assert mine["resultReportHasPasswords"] is True and f"/passwords/{FAC_A1}/" in mine["resultReportUrl"]
    assert theirs["resultReportHasPasswords"] is False and f"/reports/{FAC_A1}/" in theirs["resultReportUrl"]
    with_passwords = _csv(get_text(aws, f"passwords/{FAC_A1}/{upload_id}/results.csv"))
    without = _csv(get_text(aws, f"reports/{FAC_A1}/{upload_id}/results.csv"))
    assert [r["password"] != "" for r in with_passwords] == [False, False, True]
    assert {r["password"] for r in without} == {""}
    # And the listing never links the passwords
    _, listing, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")
    assert [u.get("resultReportHasPasswords") for u in listing["uploads"]] == [False]
    # And each issue of the passwords link is audited by ids
    issued = [e for e in list_entries(FAC_A1, limit=100) if e.action == "RESULT_PASSWORDS_ISSUED"]
    assert [(e.actor, e.target_id) for e in issued] == [("ridge", upload_id)]
    # When 24 hours have passed and the sweeper ran
    later = datetime.now(UTC) + timedelta(hours=24, minutes=1)
    monkeypatch.setattr(clock, "utc_now", lambda: later)
    _, after, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert after["resultReportHasPasswords"] is False and f"/reports/{FAC_A1}/" in after["resultReportUrl"]
    sweep_expired()
    # Then nobody gets the passwords and the object is gone
    assert keys_under(aws, "passwords/") == []
    _, gone, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert gone["resultReportHasPasswords"] is False


def test_an_auto_confirmed_drop_gives_its_passwords_to_the_first_writer_only(call_api, aws, directory):
    from intake.dal import directory as locations

    # Given a facility that auto-confirms drops, and a drop with a blank password
    locations.update_location(FAC_A1, auto_confirm_drops=True)
    put_object(aws, f"incoming/{FAC_A1}/roster.csv", csv_file([f"b1,830001,Eve,Lee,01/02/1990,Learner,,{UNIT_A1}"]))
    drain(aws)
    _, listing, _ = call_api("GET", f"/facilities/{FAC_A1}/uploads", "ridge")
    upload_id = listing["uploads"][0]["uploadId"]
    # When its FacilityAdmin asks first, then its AgencyAdmin
    _, first, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    _, second, _ = call_api("GET", f"/uploads/{upload_id}", "north")
    _, again, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    # Then only the first gets (and keeps getting) the passwords
    assert first["status"] == "COMPLETED"
    assert (first["resultReportHasPasswords"], second["resultReportHasPasswords"]) == (True, False)
    assert again["resultReportHasPasswords"] is True


@pytest.mark.parametrize(
    ("blank_format", "why"),
    [
        ("{docIdLast4}", "guessable"),
        ("{lastName}{firstName}{docId}", "guessable"),
        ("{lastName}{docIdLast4}{random:6}", "guessable"),
        ("=HYPERLINK({random:12})", "formula"),
        ("+{random:12}", "formula"),
        ("{random:12}{nope}", "unknown placeholder"),
    ],
)
def test_weak_or_formula_formats_are_refused_when_saved(call_api, directory, blank_format, why):
    # When a FacilityAdmin saves a format that is guessable or would start a spreadsheet formula
    body = {"passwordRule": {"minLength": 8, "blankFormat": blank_format}}
    status, answer, _ = call_api("POST", f"/facilities/{FAC_A1}/settings", "ridge", body)
    # Then it is refused with a message that says why
    assert status == 400 and answer["code"] == "VALIDATION_FAILED", answer
    assert [e["field"] for e in answer["errors"]] == ["passwordRule.blankFormat"]
    assert why in answer["errors"][0]["message"]


def test_a_strong_format_is_saved_and_makes_passwords_that_meet_the_floor(call_api, aws, directory):
    from intake.password_rules import MIN_RANDOM_BITS, parse_format

    # When a format with a random part of 9 letters/digits is saved
    body = {"passwordRule": {"minLength": 9, "blankFormat": "{lastName}{random:9}"}}
    status, answer, _ = call_api("POST", f"/facilities/{FAC_A1}/settings", "ridge", body)
    assert status == 200, answer
    assert parse_format("{lastName}{random:9}").random_bits >= MIN_RANDOM_BITS
    # Then a learner created without a password gets one of that shape
    learner = {"docId": "840001", "firstName": "Fay", "lastName": "Lee", "dateOfBirth": "01/02/1990"}
    status, created, _ = call_api("POST", "/learners", "ridge", {**learner, "locationId": UNIT_A1})
    assert status == 201 and created["generatedPassword"].startswith("Lee") and len(created["generatedPassword"]) == 12


def test_a_stored_weak_format_never_makes_a_weak_password(call_api, aws, directory, caplog):
    from intake.dal import directory as locations
    from intake.domain import PasswordRule

    # Given a format saved before formats were checked (every password would be 4 digits, or a formula)
    for weak in ("{docIdLast4}", "=1+{docIdLast4}"):
        locations.update_location(FAC_A1, password_rule=PasswordRule(blank_format=weak))
        # When a learner is created without a password, singly and in bulk
        learner = {"docId": f"85000{len(weak)}", "firstName": "Gus", "lastName": "Lee", "dateOfBirth": "01/02/1990"}
        status, created, _ = call_api("POST", "/learners", "ridge", {**learner, "locationId": UNIT_A1})
        # Then the random generator is used instead (with a warning naming only the facility)
        assert status == 201
        password = created["generatedPassword"]
        assert len(password) >= 16 and not password.startswith("=") and learner["docId"][-4:] not in password
    assert "blank password format not used" in caplog.text


def test_a_plan_row_outside_the_uploads_facility_fails_at_creation(call_api, aws, directory):
    from intake.dal.tables import LearnerItem

    # Given a validated upload of facility ridge whose plan was made (by a bug) with a row of facility lake
    upload_id = _upload(call_api, aws, [f"b1,860001,Hal,Lee,01/02/1990,Learner,,{UNIT_A1}"])
    key = f"plans/{FAC_A1}/{upload_id}/chunk-000000.json"
    plan = json.loads(get_text(aws, key))
    plan[0].update(locationId=UNIT_A2, facilityId=FAC_A2)
    __import__("boto3").client("s3", region_name="us-east-1").put_object(
        Bucket=aws.bucket, Key=key, Body=json.dumps(plan).encode()
    )
    # When it is confirmed
    assert call_api("POST", f"/uploads/{upload_id}/confirm", "ridge", {})[0] == 202
    drain(aws)
    # Then the row failed with a message naming both facilities, and no learner was created at lake
    _, done, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert done["counts"]["failed"] == 1 and done["counts"]["created"] == 0
    results = _csv(get_text(aws, f"reports/{FAC_A1}/{upload_id}/results.csv"))
    assert results[0]["outcome"] == "FAILED" and FAC_A2 in results[0]["message"] and FAC_A1 in results[0]["message"]
    assert "860001" not in {item.docId for item in LearnerItem.query(AGENCY_A)}
    assert keys_under(aws, "passwords/") == []


def test_result_password_cells_are_neutralised():
    from intake.bulk.reports import ReportWriter

    # (the shared mechanism every results.csv cell, the password too, now goes through)
    out = io.BytesIO()
    ReportWriter(out, ("line", "password")).write(["2", "=cmd|' /C calc'!A0"])
    assert out.getvalue().decode("utf-8-sig").splitlines()[1] == "2,'=cmd|' /C calc'!A0"
