"""Every log line of the API and bulk flows is free of passwords, hashes and dates of birth."""

from __future__ import annotations

from tests.conftest import FAC_A1, UNIT_A1
from tests.integration.bulk_helpers import csv_file, drain, put_object


def test_logs_hold_no_password_hash_or_date_of_birth(call_api, aws, directory, capfd):
    # Every formatted line of the service's logger, exactly as CloudWatch would receive it
    import io
    import logging

    from intake.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger("intake").addHandler(handler)
    # Given a single creation with a given password, one with a generated one, and a bulk upload with both
    given = "Gardenia-Road-77"
    learner = {
        "docId": "600001",
        "firstName": "Ann",
        "lastName": "Lee",
        "dateOfBirth": "07/19/1983",
        "locationId": UNIT_A1,
        "password": given,
    }
    _, first, _ = call_api("POST", "/learners", "ridge", learner)
    _, second, _ = call_api("POST", "/learners", "ridge", {**learner, "docId": "600002", "password": None})
    call_api("POST", "/learners", "ridge", {**learner, "docId": "600003", "dateOfBirth": "13/45/1983"})
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
    # When every line logged is read
    logging.getLogger("intake").removeHandler(handler)
    captured = capfd.readouterr()
    logged = stream.getvalue() + captured.out + captured.err
    # Then no secret or date of birth is in it
    assert logged.strip(), "the flows should have logged something"
    for secret in (
        given,
        second["generatedPassword"],
        "Bulk-Pass-555",
        "$argon2",
        "07/19/1983",
        "08/21/1975",
        "09/22/1976",
        "13/45/1983",
    ):
        assert secret not in logged
    assert first["learner"]["learnerId"] in logged
