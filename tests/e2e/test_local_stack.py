"""The local stack over HTTP: the state file, and authentication as API Gateway's Cognito authorizer does it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
import pytest
import requests

pytestmark = pytest.mark.e2e

Stack = dict[str, Any]
TIMEOUT = 30


def get(stack: Stack, path: str, authorization: str | None = None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return requests.get(stack["apiUrl"] + path, headers=headers, timeout=TIMEOUT)


def expected_scope(stack: Stack, member: dict[str, Any]) -> dict[str, set[str]]:
    """facilityId → housing unit ids a staff member should see, from the seeded data and the contract's roles: every
    facility one of their grants covers (a FacilityAdmin at one facility who is an Educator at another sees both)."""

    def covers(grant: dict[str, Any], agency_id: str, facility_id: str) -> bool:
        if grant["role"] == "SystemAdmin":
            return True
        if grant["agencyId"] != agency_id:
            return False
        return grant["role"] == "AgencyAdmin" or grant["facilityId"] == facility_id

    scope = {}
    for agency in stack["agencies"]:
        for facility in agency["facilities"]:
            visible = any(covers(grant, agency["agencyId"], facility["facilityId"]) for grant in member["grants"])
            if visible:
                scope[facility["facilityId"]] = {unit["locationId"] for unit in facility["housingUnits"]}
    return scope


def test_state_file_has_the_contract_shape(local_stack: Stack) -> None:
    # Given the running local stack
    # When its state file is read
    # Then it has the contract's keys (more may be added), two agencies or more, and staff of every role
    assert set(local_stack) >= {
        "apiUrl",
        "awsEndpoint",
        "region",
        "uploadsBucket",
        "userPoolId",
        "userPoolClientId",
        "agencies",
        "staff",
    }
    assert local_stack["region"] == "us-east-1"
    assert len(local_stack["agencies"]) >= 2
    first = local_stack["agencies"][0]
    assert len(first["facilities"]) >= 2
    assert all(len(f["housingUnits"]) >= 2 for f in first["facilities"])
    assert {s["role"] for s in local_stack["staff"]} == {"SystemAdmin", "AgencyAdmin", "FacilityAdmin", "Educator"}
    for member in local_stack["staff"]:
        # the contract's keys, and (issue 19, additive) every grant the member holds
        assert set(member) == {"username", "password", "role", "agencyId", "facilityIds", "grants"}
        assert all(set(grant) == {"role", "agencyId", "facilityId"} for grant in member["grants"])


def test_health_needs_no_token(local_stack: Stack) -> None:
    # Given no Authorization header
    # When GET /health
    response = get(local_stack, "/health")
    # Then 200 {"status": "ok"}
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_facilities_without_a_token_is_401(local_stack: Stack) -> None:
    # Given no Authorization header
    # When GET /facilities
    response = get(local_stack, "/facilities")
    # Then 401 UNAUTHENTICATED
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("authorization", ["garbage", "Bearer garbage", "Bearer a.b.c", "Bearer "])
def test_facilities_with_a_garbage_token_is_401(local_stack: Stack, authorization: str) -> None:
    # Given an Authorization header that is no ID token of the pool
    # When GET /facilities
    response = get(local_stack, "/facilities", authorization)
    # Then 401 UNAUTHENTICATED
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_facilities_with_a_real_token_lists_each_staff_members_scope(
    local_stack: Stack, id_token: Callable[..., str]
) -> None:
    for member in local_stack["staff"]:
        # Given an ID token of a seeded staff member
        token = id_token(local_stack, member["username"])
        # When GET /facilities, with and without the Bearer prefix
        responses = [get(local_stack, "/facilities", f"Bearer {token}"), get(local_stack, "/facilities", token)]
        # Then 200 with exactly the facilities (and housing units) of the member's scope
        for response in responses:
            assert response.status_code == 200, (member["username"], response.text)
            listed = {
                f["facilityId"]: {unit["locationId"] for unit in f["housingUnits"]}
                for f in response.json()["facilities"]
            }
            assert listed == expected_scope(local_stack, member), member["username"]


def test_a_token_of_another_app_client_is_401(
    local_stack: Stack, id_token: Callable[..., str], cognito_client: Any
) -> None:
    # Given an ID token issued by the same pool to another app client
    other = cognito_client.create_user_pool_client(
        UserPoolId=local_stack["userPoolId"],
        ClientName="not-intake",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    admin = next(s["username"] for s in local_stack["staff"] if s["role"] == "SystemAdmin")
    token = id_token(local_stack, admin, other)
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == other
    # When GET /facilities
    response = get(local_stack, "/facilities", f"Bearer {token}")
    # Then 401: the audience is not the API's client
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def _tablet_token(stack: Stack, **form: str) -> requests.Response:
    tablet = stack["tabletClient"]
    data = {"grant_type": "client_credentials", "scope": tablet["scope"], **form}
    return requests.post(
        tablet["tokenUrl"], auth=(tablet["clientId"], tablet["clientSecret"]), data=data, timeout=TIMEOUT
    )


def test_the_state_files_tablet_client_gets_a_token_from_its_token_url(local_stack: Stack) -> None:
    # Given the state file's tabletClient
    tablet = local_stack["tabletClient"]
    assert set(tablet) == {"clientId", "clientSecret", "tokenUrl", "scope"}
    assert tablet["tokenUrl"] == local_stack["apiUrl"] + "/oauth2/token"
    assert tablet["scope"] == "intake/learner-sign-ins" and tablet["clientSecret"]
    # When it asks for a token as curl -u id:secret -d grant_type=client_credentials -d scope=... does
    response = _tablet_token(local_stack)
    # Then Cognito's answer, and an access token of the tablet client with the scope
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["client_id"], claims["token_use"], claims["scope"]) == (
        tablet["clientId"],
        "access",
        tablet["scope"],
    )
    # And a wrong secret is Cognito's 400 invalid_client
    refused = requests.post(
        tablet["tokenUrl"],
        auth=(tablet["clientId"], "not-the-secret"),
        data={"grant_type": "client_credentials"},
        timeout=TIMEOUT,
    )
    assert (refused.status_code, refused.json()) == (400, {"error": "invalid_client"})


def test_machine_and_staff_tokens_each_only_work_where_they_belong(
    local_stack: Stack, id_token: Callable[..., str]
) -> None:
    machine = _tablet_token(local_stack).json()["access_token"]
    admin = next(s for s in local_stack["staff"] if s["role"] == "SystemAdmin")
    staff = id_token(local_stack, admin["username"])
    agency_id = local_stack["agencies"][0]["agencyId"]
    attempt = {"agencyId": agency_id, "username": "no-such-learner", "password": "wrong-password-1"}
    # A staff ID token on the sign-in route: 403 from the gateway
    response = requests.post(
        local_stack["apiUrl"] + "/learner-sign-ins", json=attempt, headers={"Authorization": staff}, timeout=TIMEOUT
    )
    assert (response.status_code, response.json()["code"]) == (403, "PERMISSION_DENIED")
    # The machine token on a staff route: 403 from the function
    response = get(local_stack, "/learners?docId=12345", f"Bearer {machine}")
    assert (response.status_code, response.json()["code"]) == (403, "PERMISSION_DENIED")
    # The machine token on the sign-in route reaches the service: an unknown username is 401 INVALID_CREDENTIALS
    response = requests.post(
        local_stack["apiUrl"] + "/learner-sign-ins",
        json=attempt,
        headers={"Authorization": f"Bearer {machine}"},
        timeout=TIMEOUT,
    )
    assert (response.status_code, response.json()["code"]) == (401, "INVALID_CREDENTIALS")
