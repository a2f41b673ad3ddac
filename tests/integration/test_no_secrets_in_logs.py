"""Every log line of the API and bulk flows is free of passwords, hashes and dates of birth."""

from __future__ import annotations

import csv
import io
from typing import Any

import requests

from tests.conftest import FAC_A1, UNIT_A1
from tests.integration.bulk_helpers import csv_file, drain, put_object
from tests.log_capture import cloudwatch_lines

GIVEN = "Gardenia-Road-77"
LEARNER = {
    "docId": "600001",
    "firstName": "Ann",
    "lastName": "Lee",
    "dateOfBirth": "07/19/1983",
    "locationId": UNIT_A1,
    "password": GIVEN,
}


def _flows(call_api: Any, aws: Any) -> tuple[str, str, str]:
    """A single creation with a given password, one with a generated one, a refused one, and a bulk upload with both."""
    _, first, _ = call_api("POST", "/learners", "ridge", LEARNER)
    _, second, _ = call_api("POST", "/learners", "ridge", {**LEARNER, "docId": "600002", "password": None})
    call_api("POST", "/learners", "ridge", {**LEARNER, "docId": "600003", "dateOfBirth": "13/45/1983"})
    data = csv_file(
        [
            f"1,600010,Bo,Ray,08/21/1975,Learner,Bulk-Pass-555,{UNIT_A1}",
            f"2,600011,Cy,Fox,09/22/1976,Learner,,{UNIT_A1}",
        ]
    )
    _, link, _ = call_api("POST", "/uploads", "ridge", {"facilityId": FAC_A1})
    put_object(aws, link["upload"]["fields"]["key"], data)
    drain(aws)
    call_api("POST", f"/uploads/{link['uploadId']}/confirm", "ridge", {})
    drain(aws)
    return first["learner"]["learnerId"], second["generatedPassword"], link["uploadId"]


def test_logs_hold_no_password_hash_or_date_of_birth(call_api, aws, directory, capfd):
    # Given the flows, with every line of the service's logger read as CloudWatch receives it (Powertools' JSON)
    with cloudwatch_lines() as logged:
        learner_id, generated_single, upload_id = _flows(call_api, aws)
    # (the bulk flow ran to its end, and its generated password is the one results.csv gives the confirmer)
    _, upload, _ = call_api("GET", f"/uploads/{upload_id}", "ridge")
    assert upload["status"] == "COMPLETED", upload
    results = requests.get(upload["resultReportUrl"], timeout=10).content.decode("utf-8-sig")
    generated_bulk = {row["docID"]: row["password"] for row in csv.DictReader(io.StringIO(results))}["600011"]
    assert generated_bulk
    # When every line logged, and whatever else reached stdout or stderr, is read
    captured = capfd.readouterr()
    written = captured.out + captured.err
    # Then no secret or date of birth is in it, in any field of any JSON line
    assert logged.lines, "the flows should have logged something"
    for secret in (
        GIVEN,
        generated_single,
        "Bulk-Pass-555",
        generated_bulk,
        "$argon2",
        "07/19/1983",
        "08/21/1975",
        "09/22/1976",
        "13/45/1983",
    ):
        assert not logged.mentions(secret), secret
        assert secret not in written, secret
    # And the flows are in it, by their ids
    assert logged.mentions(learner_id) and logged.mentions(upload_id)
