"""Single learners over the running local stack: real HTTP, ID tokens from the AWS CLI, storage read with boto3."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.e2e.conftest import Api, Stack, stack_client

pytestmark = pytest.mark.e2e

DENIED = "Requestor does not have permission to create this user"
CONCURRENT_CREATIONS = 20


def new_doc_id() -> str:
    """A DOC ID no other test uses (the stack is shared by every e2e test)."""
    return f"E2E-{uuid.uuid4().hex[:12].upper()}"


def facility(stack: Stack, facility_id: str) -> dict[str, Any]:
    return next(f for a in stack["agencies"] for f in a["facilities"] if f["facilityId"] == facility_id)


def unit(stack: Stack, facility_id: str, index: int = 0) -> str:
    return str(facility(stack, facility_id)["housingUnits"][index]["locationId"])


def learner_body(stack: Stack, doc_id: str, location_id: str) -> dict[str, str]:
    return {
        "docId": doc_id,
        "firstName": "Marcus",
        "lastName": "O'Hill-Ray",
        "dateOfBirth": "3/14/1988",
        "locationId": location_id,
    }


def stored_item(stack: Stack, agency_id: str, doc_id: str) -> dict[str, Any]:
    """The learner's item as DynamoDB holds it, read from the embedded AWS."""
    dynamodb = stack_client(stack, "dynamodb")
    table = next(name for name in dynamodb.list_tables()["TableNames"] if name.endswith("LearnersTable"))
    item = dynamodb.get_item(TableName=table, Key={"agencyId": {"S": agency_id}, "docId": {"S": doc_id}})
    return dict(item.get("Item") or {})


@pytest.fixture(scope="module")
def north(local_stack: Stack) -> dict[str, Any]:
    """The first agency: two facilities, their admins, the educator; the second agency's admin."""
    agency = local_stack["agencies"][0]
    first, second = (f["facilityId"] for f in agency["facilities"][:2])
    staff = local_stack["staff"]

    def admin_of(facility_id: str) -> str:
        return next(s["username"] for s in staff if s["role"] == "FacilityAdmin" and facility_id in s["facilityIds"])

    other_agency = local_stack["agencies"][1]
    return {
        "agencyId": agency["agencyId"],
        "first": first,
        "second": second,
        "firstAdmin": admin_of(first),
        "secondAdmin": admin_of(second),
        "educator": next(s["username"] for s in staff if s["role"] == "Educator" and first in s["facilityIds"]),
        "otherAgencyId": other_agency["agencyId"],
        "otherFacility": other_agency["facilities"][0]["facilityId"],
        "otherAdmin": admin_of(other_agency["facilities"][0]["facilityId"]),
    }


def test_facility_admin_creates_a_learner_stored_with_an_argon2id_hash_only(
    local_stack: Stack, api: Api, north: dict[str, Any]
) -> None:
    # Given a FacilityAdmin with a token from `aws cognito-idp initiate-auth`
    doc_id = new_doc_id()
    body = learner_body(local_stack, doc_id, unit(local_stack, north["first"], 1))
    # When they create a learner in one of their housing units without a password
    response = api.call("POST", "/learners", north["firstAdmin"], body)
    # Then 201 with the learner and a generated password, returned once
    assert response.status_code == 201, response.text
    created = response.json()
    learner = created["learner"]
    generated = created["generatedPassword"]
    assert learner["docId"] == doc_id and learner["dateOfBirth"] == "03/14/1988"
    assert learner["facilityId"] == north["first"] and learner["locationId"] == body["locationId"]
    assert len(generated) >= 16 and generated not in str(learner)
    again = api.call("GET", f"/learners/{learner['learnerId']}", north["firstAdmin"])
    assert again.status_code == 200 and generated not in again.text and "passwordHash" not in again.text
    # And the stored item holds an Argon2id hash and no password
    item = stored_item(local_stack, north["agencyId"], doc_id)
    assert item["passwordHash"]["S"].startswith("$argon2id$")
    assert not [name for name in item if "password" in name.lower() and name != "passwordHash"]
    assert generated not in str(item)


def test_given_password_is_hashed_and_never_echoed(local_stack: Stack, api: Api, north: dict[str, Any]) -> None:
    # Given a learner body with a password
    doc_id = new_doc_id()
    body = {**learner_body(local_stack, doc_id, unit(local_stack, north["first"])), "password": "Sunrise-4242"}
    # When it is created
    response = api.call("POST", "/learners", north["firstAdmin"], body)
    # Then the answer holds no password and the store only its hash
    assert response.status_code == 201, response.text
    assert "generatedPassword" not in response.json() and "Sunrise-4242" not in response.text
    item = stored_item(local_stack, north["agencyId"], doc_id)
    assert item["passwordHash"]["S"].startswith("$argon2id$") and "Sunrise-4242" not in str(item)


def test_educator_and_admin_of_another_facility_get_403_with_the_exact_message(
    local_stack: Stack, api: Api, north: dict[str, Any]
) -> None:
    # Given a body for a housing unit of the first facility
    doc_id = new_doc_id()
    body = learner_body(local_stack, doc_id, unit(local_stack, north["first"]))
    for username in (north["educator"], north["secondAdmin"], north["otherAdmin"]):
        # When an Educator, an admin of the agency's other facility and one of another agency create it
        response = api.call("POST", "/learners", username, body)
        # Then each gets 403 with the portal's exact message, and nothing is stored
        assert response.status_code == 403, (username, response.text)
        assert response.json() == {"code": "PERMISSION_DENIED", "message": DENIED}
    assert stored_item(local_stack, north["agencyId"], doc_id) == {}


def test_no_token_is_401(local_stack: Stack, api: Api, north: dict[str, Any]) -> None:
    # Given no Authorization header
    body = learner_body(local_stack, new_doc_id(), unit(local_stack, north["first"]))
    # When a learner is posted
    response = api.call("POST", "/learners", None, body)
    # Then 401 UNAUTHENTICATED and nothing stored
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert stored_item(local_stack, north["agencyId"], body["docId"]) == {}


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"lastName": None}, "lastName", None),
        ({"dateOfBirth": "02/29/1991"}, "dateOfBirth", "INVALID_DATE"),
        ({"firstName": "M4rcus"}, "firstName", None),
        ({"docId": "AB#12"}, "docId", None),
    ],
)
def test_malformed_body_is_400_naming_the_field(
    local_stack: Stack, api: Api, north: dict[str, Any], change: dict[str, Any], field: str, code: str | None
) -> None:
    # Given a body with one bad field
    body = {**learner_body(local_stack, new_doc_id(), unit(local_stack, north["first"])), **change}
    # When it is posted
    response = api.call("POST", "/learners", north["firstAdmin"], body)
    # Then 400 VALIDATION_FAILED naming that field
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == "VALIDATION_FAILED"
    assert field in {error["field"] for error in answer["errors"]}, answer
    if code is not None:
        assert code in {error["code"] for error in answer["errors"] if error["field"] == field}


def test_body_that_is_not_json_is_400(api: Api, north: dict[str, Any]) -> None:
    # Given / When a body that is not JSON
    response = requests.post(
        api.stack["apiUrl"] + "/learners",
        data=b"{not json",
        headers={"Authorization": f"Bearer {api.token(north['firstAdmin'])}", "Content-Type": "application/json"},
        timeout=30,
    )
    # Then 400 VALIDATION_FAILED
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_FAILED"


def test_twenty_concurrent_creations_of_one_doc_id_make_one_learner(
    local_stack: Stack, api: Api, north: dict[str, Any]
) -> None:
    # Given one DOC ID and twenty clients ready to create it at once
    doc_id = new_doc_id()
    body = learner_body(local_stack, doc_id, unit(local_stack, north["first"]))
    token = api.token(north["firstAdmin"])
    start = threading.Barrier(CONCURRENT_CREATIONS)

    def create(_: int) -> requests.Response:
        start.wait(timeout=30)
        return requests.post(
            local_stack["apiUrl"] + "/learners", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    # When they all post it over HTTP at the same time
    with ThreadPoolExecutor(max_workers=CONCURRENT_CREATIONS) as pool:
        responses = list(pool.map(create, range(CONCURRENT_CREATIONS)))
    # Then exactly one 201 and nineteen 409 LEARNER_EXISTS naming the learner that was created
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (CONCURRENT_CREATIONS - 1), [r.text for r in responses if r.status_code >= 500]
    created = next(r.json()["learner"] for r in responses if r.status_code == 201)
    for conflict in (r.json() for r in responses if r.status_code == 409):
        assert conflict["code"] == "LEARNER_EXISTS"
        assert conflict["existing"]["learnerId"] == created["learnerId"]
    found = api.call("GET", f"/learners?docId={doc_id}", north["firstAdmin"]).json()["learners"]
    assert [learner["learnerId"] for learner in found] == [created["learnerId"]]
    # And the same DOC ID in the other agency is another person, created
    other = learner_body(local_stack, doc_id, unit(local_stack, north["otherFacility"]))
    response = api.call("POST", "/learners", north["otherAdmin"], other)
    assert response.status_code == 201, response.text
    assert response.json()["learner"]["learnerId"] != created["learnerId"]
    assert stored_item(local_stack, north["otherAgencyId"], doc_id)["learnerId"]["S"] != created["learnerId"]


def learner_at_first_facility(local_stack: Stack, api: Api, north: dict[str, Any]) -> tuple[str, str, str]:
    """A new learner in a housing unit of the agency's first facility: (DOC ID, that unit, learnerId)."""
    doc_id = new_doc_id()
    origin = unit(local_stack, north["first"])
    created = api.call("POST", "/learners", north["firstAdmin"], learner_body(local_stack, doc_id, origin))
    assert created.status_code == 201, created.text
    return doc_id, origin, created.json()["learner"]["learnerId"]


def test_admin_of_the_destination_moves_a_learner_keeping_its_id(
    local_stack: Stack, api: Api, north: dict[str, Any]
) -> None:
    # Given a learner at the agency's first facility
    doc_id, origin, learner_id = learner_at_first_facility(local_stack, api, north)
    # When an admin of the second facility finds it by DOC ID and moves it into one of their housing units
    found = api.call("GET", f"/learners?docId={doc_id}", north["secondAdmin"])
    assert found.status_code == 200 and [x["learnerId"] for x in found.json()["learners"]] == [learner_id]
    destination = unit(local_stack, north["second"], 1)
    moved = api.call("POST", f"/learners/{learner_id}/move", north["secondAdmin"], {"locationId": destination})
    # Then the learner keeps its id, is at the destination, and its history records the move
    assert moved.status_code == 200, moved.text
    learner = moved.json()["learner"]
    assert learner["learnerId"] == learner_id
    assert (learner["locationId"], learner["facilityId"]) == (destination, north["second"])
    [entry] = [e for e in learner["history"] if e["kind"] == "MOVED"]  # v2 puts CREATED first
    assert entry["fromLocationId"] == origin and entry["fromFacilityId"] == north["first"]
    assert entry["toLocationId"] == destination and entry["toFacilityId"] == north["second"]
    assert entry["movedBy"] == north["secondAdmin"]
    item = stored_item(local_stack, north["agencyId"], doc_id)
    assert item["learnerId"]["S"] == learner_id and item["locationId"]["S"] == destination
    assert len(item["history"]["L"]) == 1


def test_move_into_a_location_outside_the_requestors_scope_is_403(
    local_stack: Stack, api: Api, north: dict[str, Any]
) -> None:
    # Given a learner at the agency's first facility
    doc_id, origin, learner_id = learner_at_first_facility(local_stack, api, north)
    # When the second facility's admin moves it within the first facility (not theirs), and the Educator moves it
    outside = api.call(
        "POST",
        f"/learners/{learner_id}/move",
        north["secondAdmin"],
        {"locationId": unit(local_stack, north["first"], 1)},
    )
    educator = api.call(
        "POST", f"/learners/{learner_id}/move", north["educator"], {"locationId": unit(local_stack, north["first"], 1)}
    )
    # Then both are 403 and the learner has not moved
    for response in (outside, educator):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "PERMISSION_DENIED"
    item = stored_item(local_stack, north["agencyId"], doc_id)
    assert item["locationId"]["S"] == origin and not item.get("history", {}).get("L")
