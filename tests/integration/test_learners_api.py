"""The single-learner routes through the API handler, over moto."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import AGENCY_A, FAC_A1, FAC_A2, UNIT_A1, UNIT_A1B, UNIT_A2, UNIT_B1

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
    assert [entry["kind"] for entry in history] == ["CREATED", "MOVED"]
    assert history[1]["fromFacilityId"] == FAC_A1 and history[1]["movedBy"] == history[1]["by"] == "lake"
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


# ---- a learner's account life (issue 15) ---------------------------------------------------------------------------

ROSTER = [
    ("200301", "José", "Núñez-O'Neil", UNIT_A1),
    ("200302", "Ann", "Able", UNIT_A1),
    ("200303", "Bo", "Nunn", UNIT_A1B),
]


def _seed_roster(call_api) -> dict[str, str]:
    ids = {}
    for doc_id, first, last, unit in ROSTER:
        body = {"docId": doc_id, "firstName": first, "lastName": last, "dateOfBirth": "01/02/1990", "locationId": unit}
        status, created, _ = call_api("POST", "/learners", "ridge", body)
        assert status == 201 and created["outcome"] == "CREATED", created
        ids[doc_id] = created["learner"]["learnerId"]
    return ids


def _doc_ids(body) -> list[str]:
    return [learner["docId"] for learner in body["learners"]]


def test_given_a_roster_when_listed_then_sorted_by_name_filtered_and_paged(call_api, directory):
    # Given three learners of the ridge facility
    _seed_roster(call_api)
    roster = f"/facilities/{FAC_A1}/learners"
    # When its Educator lists them
    status, body, _ = call_api("GET", roster, "teacher")
    # Then they come sorted by last then first name (accents ignored: Núñez before Nunn), with their status, and no
    # password anywhere
    assert status == 200 and _doc_ids(body) == ["200302", "200301", "200303"]
    assert {learner["status"] for learner in body["learners"]} == {"ACTIVE"} and "nextCursor" not in body
    assert "passwordHash" not in str(body)
    # And a housing unit filter keeps only its learners
    _, unit, _ = call_api("GET", roster, "teacher", query={"locationId": UNIT_A1B})
    assert _doc_ids(unit) == ["200303"]
    # And pages of 2 chain through nextCursor
    _, first, _ = call_api("GET", roster, "ridge", query={"limit": "2"})
    _, second, _ = call_api("GET", roster, "ridge", query={"limit": "2", "cursor": first["nextCursor"]})
    assert _doc_ids(first) + _doc_ids(second) == ["200302", "200301", "200303"] and "nextCursor" not in second


def test_given_a_roster_when_searched_then_case_and_accents_are_ignored(call_api, directory):
    _seed_roster(call_api)
    roster = f"/facilities/{FAC_A1}/learners"
    for q, expected in (
        ("2003", ["200302", "200301", "200303"]),
        ("JOSE NUNEZ", ["200301"]),
        ("nun", ["200301", "200303"]),
    ):
        # When the roster is searched
        status, body, _ = call_api("GET", roster, "ridge", query={"q": q})
        # Then the DOC ID prefix, "first last" and last name prefix match regardless of case and accents
        assert status == 200 and _doc_ids(body) == expected, q


def test_roster_query_parameters_are_bounded(call_api, directory):
    roster = f"/facilities/{FAC_A1}/learners"
    for query in ({"limit": "0"}, {"limit": "201"}, {"status": "GONE"}, {"q": "x" * 101}, {"cursor": "c" * 2001}):
        # When a parameter is out of bounds
        status, body, _ = call_api("GET", roster, "ridge", query=query)
        # Then 400 names it
        (name,) = query
        assert status == 400 and body["code"] == "VALIDATION_FAILED", query
        assert [error["field"] for error in body["errors"]] == [name]
    # And a facility outside the requestor's scope answers 404
    assert call_api("GET", f"/facilities/{FAC_A2}/learners", "ridge")[0] == 404


def test_given_a_learner_when_its_last_name_is_edited_then_the_history_says_which_field(call_api, directory):
    ids = _seed_roster(call_api)
    learner_id = ids["200302"]
    # When the FacilityAdmin fixes the last name
    status, body, _ = call_api("PATCH", f"/learners/{learner_id}", "ridge", {"lastName": "Abel"})
    # Then the learner has it, and the history's last entry is an EDITED of lastName by them, without values
    assert status == 200 and body["learner"]["lastName"] == "Abel"
    edited = body["learner"]["history"][-1]
    assert (edited["kind"], edited["by"], edited["fields"]) == ("EDITED", "ridge", ["lastName"])
    assert "Able" not in str(edited) and "Abel" not in str(edited)
    # And the read back agrees
    assert call_api("GET", f"/learners/{learner_id}", "teacher")[1]["learner"]["lastName"] == "Abel"


def test_an_edit_needs_a_known_field_and_at_least_one(call_api, directory):
    learner_id = _seed_roster(call_api)["200302"]
    for body in ({}, {"lastName": "Abel", "docId": "999"}, {"firstName": ""}):
        # When the body is empty, has a field that cannot be edited, or a blank name
        status, answer, _ = call_api("PATCH", f"/learners/{learner_id}", "ridge", body)
        # Then 400, and nothing changed
        assert status == 400 and answer["code"] == "VALIDATION_FAILED", body
    assert call_api("GET", f"/learners/{learner_id}", "ridge")[1]["learner"]["lastName"] == "Able"
    # And an Educator may not edit
    assert call_api("PATCH", f"/learners/{learner_id}", "teacher", {"lastName": "Abel"})[0] == 403


def test_deactivate_and_reactivate_one_learner_answer_the_same_when_repeated(call_api, directory):
    learner_id = _seed_roster(call_api)["200302"]
    # When the learner is deactivated twice
    first = call_api("POST", f"/learners/{learner_id}/deactivate", "ridge")
    second = call_api("POST", f"/learners/{learner_id}/deactivate", "ridge")
    # Then both answer 200 with the same inactive learner, and the history has one DEACTIVATED
    assert first[0] == second[0] == 200 and first[1] == second[1]
    assert first[1]["learner"]["status"] == "INACTIVE"
    assert [entry["kind"] for entry in second[1]["learner"]["history"]].count("DEACTIVATED") == 1
    # And reactivating brings it back
    status, body, _ = call_api("POST", f"/learners/{learner_id}/reactivate", "ridge")
    assert status == 200 and body["learner"]["status"] == "ACTIVE"


def test_given_three_selected_learners_when_deactivated_then_each_has_a_result(call_api, directory):
    ids = _seed_roster(call_api)
    roster = f"/facilities/{FAC_A1}/learners"
    selection = [ids["200301"], ids["200302"], ids["200303"], "no-such-learner"]
    # When three learners and an unknown id are deactivated at once
    status, body, _ = call_api("POST", f"{roster}/status", "ridge", {"learnerIds": selection, "status": "INACTIVE"})
    # Then each id has its outcome, in the order asked
    assert status == 200
    assert body["results"] == [
        {"learnerId": ids["200301"], "outcome": "CHANGED"},
        {"learnerId": ids["200302"], "outcome": "CHANGED"},
        {"learnerId": ids["200303"], "outcome": "CHANGED"},
        {"learnerId": "no-such-learner", "outcome": "NOT_FOUND"},
    ]
    # And they are listed only under status=INACTIVE (and ALL)
    assert _doc_ids(call_api("GET", roster, "ridge")[1]) == []
    assert len(_doc_ids(call_api("GET", roster, "ridge", query={"status": "INACTIVE"})[1])) == 3
    assert len(_doc_ids(call_api("GET", roster, "ridge", query={"status": "ALL"})[1])) == 3
    # And reactivating one of them again changes only it
    again = {"learnerIds": [ids["200302"], ids["200301"]], "status": "ACTIVE"}
    assert call_api("POST", f"{roster}/status", "ridge", again)[1]["results"][0]["outcome"] == "CHANGED"
    repeat = call_api("POST", f"{roster}/status", "ridge", {"learnerIds": [ids["200302"]], "status": "ACTIVE"})
    assert repeat[1]["results"] == [{"learnerId": ids["200302"], "outcome": "UNCHANGED"}]


def test_a_selection_is_1_to_500_unique_ids(call_api, directory):
    path = f"/facilities/{FAC_A1}/learners/status"
    for ids in ([], [f"id-{n}" for n in range(501)], ["a", "a"]):
        # When the selection is empty, too long or repeats an id
        status, body, _ = call_api("POST", path, "ridge", {"learnerIds": ids, "status": "INACTIVE"})
        cards = call_api("POST", f"/facilities/{FAC_A1}/learner-cards", "ridge", {"learnerIds": ids})
        # Then 400 for both selection routes
        assert status == cards[0] == 400 and body["code"] == cards[1]["code"] == "VALIDATION_FAILED", len(ids)
    # And a status other than ACTIVE or INACTIVE is refused
    assert call_api("POST", path, "ridge", {"learnerIds": ["a"], "status": "ALL"})[0] == 400


def test_given_a_learner_when_its_password_is_reset_then_only_the_new_one_verifies(call_api, directory):
    from intake.dal.learners import stored_password_hash
    from intake.passwords import verify_password

    status, created, _ = call_api("POST", "/learners", "ridge", LEARNER)
    learner_id, old = created["learner"]["learnerId"], created["generatedPassword"]
    # When the FacilityAdmin resets it without giving one
    status, body, _ = call_api("POST", f"/learners/{learner_id}/password", "ridge", {})
    # Then a new password is shown once, it verifies and the old one no longer does; history says PASSWORD_RESET
    assert status == 200 and body["generatedPassword"] != old
    stored = stored_password_hash(AGENCY_A, "100201") or ""
    assert verify_password(stored, body["generatedPassword"]) and not verify_password(stored, old)
    assert body["learner"]["history"][-1]["kind"] == "PASSWORD_RESET"
    assert body["generatedPassword"] not in str(body["learner"])
    # And a given password is kept without being shown
    status, given, _ = call_api("POST", f"/learners/{learner_id}/password", "ridge", {"password": "Sunrise4242"})
    assert status == 200 and "generatedPassword" not in given and "Sunrise4242" not in str(given)
    assert verify_password(stored_password_hash(AGENCY_A, "100201") or "", "Sunrise4242")
    # And a password the rule refuses is 400; an Educator gets 403
    assert call_api("POST", f"/learners/{learner_id}/password", "ridge", {"password": "short"})[0] == 400
    assert call_api("POST", f"/learners/{learner_id}/password", "teacher", {})[0] == 403


def test_given_three_learners_when_cards_are_printed_with_reset_then_a_pdf_attachment(call_api, directory):
    from intake.dal.learners import stored_password_hash

    ids = _seed_roster(call_api)
    before = {doc_id: stored_password_hash(AGENCY_A, doc_id) for doc_id in ids}
    body = {"learnerIds": list(ids.values()), "resetPasswords": True}
    # When the FacilityAdmin prints their cards with new passwords
    status, pdf, headers = call_api("POST", f"/facilities/{FAC_A1}/learner-cards", "ridge", body)
    # Then a PDF attachment named after the facility, never cached, and every password changed
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == f'attachment; filename="learner-cards-{FAC_A1}.pdf"'
    assert headers["Cache-Control"] == "no-store"
    assert base64.b64decode(pdf, validate=True).startswith(b"%PDF-")
    assert all(stored_password_hash(AGENCY_A, doc_id) != old for doc_id, old in before.items())


def test_created_learners_say_their_outcome(call_api, directory):
    status, body, _ = call_api("POST", "/learners", "ridge", LEARNER)
    assert status == 201 and body["outcome"] == "CREATED"
    assert body["learner"]["status"] == "ACTIVE"
    # And its history, read back, starts with its creation
    _, read, _ = call_api("GET", f"/learners/{body['learner']['learnerId']}", "ridge")
    assert read["learner"]["history"][0]["kind"] == "CREATED" and read["learner"]["history"][0]["by"] == "ridge"


def test_a_patch_body_is_json_or_refused_like_any_other(call_api, directory, lambda_context):
    import copy
    import json

    import api_handler
    from tests.conftest import load_event

    learner_id = _seed_roster(call_api)["200302"]

    def patch(body: str, headers: dict[str, str], is_base64: bool = False) -> tuple[int, dict]:
        event = copy.deepcopy(load_event("api_request.json"))
        event.update(httpMethod="PATCH", path=f"/learners/{learner_id}", body=body, isBase64Encoded=is_base64)
        event["headers"] = {**(event.get("headers") or {}), **headers}
        event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
        event["requestContext"].update(
            httpMethod="PATCH", authorizer={"claims": {"cognito:username": "ridge", "token_use": "id"}}
        )
        response = api_handler.lambda_handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"])

    # When a PATCH declares a form body, or sends bytes that are not UTF-8
    form = patch("lastName=Abel", {"Content-Type": "application/x-www-form-urlencoded"})
    binary = patch(base64.b64encode(b"\xff_").decode(), {"Content-Type": "application/json"}, is_base64=True)
    # Then the contract's 415 and 400, and the learner is unchanged
    assert form == (415, {"code": "UNSUPPORTED_MEDIA_TYPE", "message": form[1]["message"]})
    assert binary[0] == 400 and [error["field"] for error in binary[1]["errors"]] == ["body"]
    # And a JSON PATCH reaches the route
    assert patch('{"lastName": "Abel"}', {"Content-Type": "application/json; charset=utf-8"})[0] == 200


def test_an_edit_moves_a_learner_only_within_its_facility(call_api, directory):
    learner_id = _seed_roster(call_api)["200302"]
    # When the housing unit is changed to another of the ridge facility
    status, body, _ = call_api("PATCH", f"/learners/{learner_id}", "ridge", {"locationId": UNIT_A1B})
    # Then the learner is there and the history names the field
    assert status == 200 and body["learner"]["locationId"] == UNIT_A1B
    assert body["learner"]["history"][-1]["fields"] == ["locationId"]
    # And a housing unit of another facility is refused (that is a move), and the learner stays
    status, refused, _ = call_api("PATCH", f"/learners/{learner_id}", "north", {"locationId": UNIT_A2})
    assert status == 400 and [error["field"] for error in refused["errors"]] == ["locationId"]
    assert call_api("GET", f"/learners/{learner_id}", "ridge")[1]["learner"]["locationId"] == UNIT_A1B
