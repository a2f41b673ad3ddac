"""The single-learner routes through the API handler, over moto."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, UNIT_A1, UNIT_A2, UNIT_B1

LEARNER = {
    "docId": "100201",
    "firstName": "Marcus",
    "lastName": "Hill",
    "dateOfBirth": "3/14/1988",
    "locationId": UNIT_A1,
}


def test_facility_admin_creates_learner_with_generated_password(call_api, directory):
    # Given a FacilityAdmin of the ridge facility
    # When they create a learner in one of its housing units without a password
    status, body, _ = call_api("POST", "/learners", "ridge", LEARNER)
    # Then it is created once, with a generated password shown once and an Argon2id hash stored
    assert status == 201
    assert body["learner"]["docId"] == "100201"
    assert body["learner"]["dateOfBirth"] == "03/14/1988"
    assert body["learner"]["facilityId"] == FAC_A1
    assert "password" not in body["learner"] and "passwordHash" not in body["learner"]
    generated = body["generatedPassword"]
    from intake.dal.learners import stored_password_hash
    from intake.passwords import verify_password

    stored = stored_password_hash(AGENCY_A, "100201")
    assert stored is not None and stored.startswith("$argon2id$")
    assert verify_password(stored, generated)


def test_given_password_is_not_returned(call_api, directory):
    # Given / When a learner is created with a password
    status, body, _ = call_api("POST", "/learners", "ridge", {**LEARNER, "password": "Sunrise4242"})
    # Then the answer holds no password at all
    assert status == 201
    assert "generatedPassword" not in body
    assert "Sunrise4242" not in str(body)


def test_educator_and_other_facility_are_refused(call_api, directory):
    # Given an Educator and a FacilityAdmin of another facility
    # When each tries to create a learner at the ridge facility
    educator = call_api("POST", "/learners", "teacher", LEARNER)
    other = call_api("POST", "/learners", "lake", LEARNER)
    other_agency = call_api("POST", "/learners", "bay", LEARNER)
    # Then each gets 403 with the portal's exact message
    for status, body, _ in (educator, other, other_agency):
        assert status == 403
        assert body == {
            "code": "PERMISSION_DENIED",
            "message": "Requestor does not have permission to create this user",
        }


def test_no_token_is_401_and_unknown_staff_is_401(call_api, directory):
    assert call_api("POST", "/learners", None, LEARNER)[0] == 401
    assert call_api("GET", "/facilities", "stranger")[0] == 401


def test_malformed_body_names_the_field(call_api, directory):
    # Given a body missing lastName and with a bad date
    status, body, _ = call_api("POST", "/learners", "ridge", {**LEARNER, "lastName": None})
    assert status == 400
    assert body["code"] == "VALIDATION_FAILED"
    assert any(error["field"] == "lastName" for error in body["errors"])
    # When the date is not a real date
    status, body, _ = call_api("POST", "/learners", "ridge", {**LEARNER, "dateOfBirth": "02/29/1991"})
    assert status == 400
    assert body["errors"][0]["field"] == "dateOfBirth" and body["errors"][0]["code"] == "INVALID_DATE"
    # And when the body is not JSON at all
    status, body, _ = call_api("POST", "/learners", "ridge", raw_body="{not json")
    assert status == 400 and body["code"] == "VALIDATION_FAILED"


def test_blank_location_is_permission_denied(call_api, directory):
    status, body, _ = call_api("POST", "/learners", "ridge", {**LEARNER, "locationId": ""})
    assert status == 403
    assert body["message"] == "Requestor does not have permission to create this user"


def test_concurrent_creations_of_one_doc_id_create_exactly_one(call_api, directory):
    # Given 20 concurrent requests for the same DOC ID in one agency
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: call_api("POST", "/learners", "north", {**LEARNER, "docId": "555"}), range(20))
        )
    statuses = sorted(status for status, _, _ in results)
    # Then exactly one is created and nineteen are told it exists, with where
    assert statuses == [201] + [409] * 19
    conflicts = [body for status, body, _ in results if status == 409]
    assert all(body["code"] == "LEARNER_EXISTS" and body["existing"]["facilityId"] == FAC_A1 for body in conflicts)
    # And the same DOC ID in the other agency is a different person
    status, _, _ = call_api("POST", "/learners", "bay", {**LEARNER, "docId": "555", "locationId": UNIT_B1})
    assert status == 201


def test_move_to_another_facility_keeps_id_and_records_history(call_api, directory):
    # Given a learner at the ridge facility
    _, created, _ = call_api("POST", "/learners", "ridge", LEARNER)
    learner_id = created["learner"]["learnerId"]
    # When the lake facility's admin finds them by DOC ID and moves them into a lake housing unit
    status, found, _ = call_api("GET", "/learners", "lake", query={"docId": "100201"})
    assert status == 200 and [item["learnerId"] for item in found["learners"]] == [learner_id]
    status, moved, _ = call_api("POST", f"/learners/{learner_id}/move", "lake", {"locationId": UNIT_A2})
    # Then the learner keeps its id, is at the lake facility and the move is in its history
    assert status == 200
    assert moved["learner"]["learnerId"] == learner_id
    assert moved["learner"]["facilityId"] == FAC_A2
    history = moved["learner"]["history"]
    # (v2: the history starts with the learner's creation; the move keeps its v1 fields)
    assert [entry["kind"] for entry in history] == ["CREATED", "MOVED"]
    assert history[1]["fromFacilityId"] == FAC_A1 and history[1]["movedBy"] == "lake"
    # And a move into a location outside the requestor's scope is refused
    status, _body, _ = call_api("POST", f"/learners/{learner_id}/move", "lake", {"locationId": UNIT_A1})
    assert status == 403
    # And the learner can be read back by id
    status, again, _ = call_api("GET", f"/learners/{learner_id}", "north")
    assert status == 200 and again["learner"]["locationId"] == UNIT_A2


def test_learner_of_another_agency_is_not_found(call_api, directory):
    _, created, _ = call_api("POST", "/learners", "ridge", LEARNER)
    status, body, _ = call_api("GET", f"/learners/{created['learner']['learnerId']}", "bay")
    assert status == 404 and body["code"] == "NOT_FOUND"


def test_facilities_and_template(call_api, directory):
    # Given a FacilityAdmin of ridge
    status, body, _ = call_api("GET", "/facilities", "ridge")
    assert status == 200
    assert [f["facilityId"] for f in body["facilities"]] == [FAC_A1]
    assert len(body["facilities"][0]["housingUnits"]) == 2
    # When they download the template
    status, text, headers = call_api("GET", f"/facilities/{FAC_A1}/template", "ridge")
    # Then it is a CSV attachment with the header and a row for their facility
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"]
    lines = text.splitlines()
    assert lines[0] == "requestId,docID,firstName,lastName,dateOfBirth,role,password,locationId"
    assert lines[1].split(",")[5] == "Learner" and lines[1].split(",")[7] == FAC_A1
    # And another facility's template is not found
    assert call_api("GET", f"/facilities/{FAC_A2}/template", "ridge")[0] == 404


def test_health_and_openapi_need_no_token(call_api):
    assert call_api("GET", "/health") == (200, {"status": "ok"}, call_api("GET", "/health")[2])
    status, document, _ = call_api("GET", "/openapi.json")
    assert status == 200 and "/learners" in document["paths"]
