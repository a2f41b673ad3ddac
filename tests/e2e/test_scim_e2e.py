"""SCIM 2.0 over the local stack (issue 19's acceptance): scim2-tester's checks with an agency's SCIM client token,
and the sequence Microsoft Entra ID runs to provision, grant and disable a staff member."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from tests.e2e.conftest import HTTP_TIMEOUT_SECONDS, Stack, cognito

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# The checks scim2-tester cannot run here, each with the reason (issue 19: "any check it cannot run is listed").
# Groups are Intake's facilities and roles (one per facility and role, membership = the grant): they are not created,
# renamed or deleted over SCIM, and every one of scim2-tester's Group checks starts by creating a Group with a random
# displayName (POST /Groups answers 403). What Groups do (list, filter, get, members by PATCH and PUT) is tested in
# test_entra_sequence below and in tests/integration/test_scim_api.py.
_GROUPS_ARE_FACILITY_ROLES = "starts by creating a Group: Groups are the agency's facility roles, never created"
NOT_RUNNABLE = {
    ("Group", check): _GROUPS_ARE_FACILITY_ROLES
    for check in (
        "object_creation",
        "object_query",
        "object_query_without_id",
        "object_query_with_attributes",
        "object_list_with_attributes",
        "search_with_attributes",
        "object_replacement",
        "object_deletion",
        "check_add_attribute",
        "check_replace_attribute",
        "check_remove_attribute",
    )
}
# POST /.search at the root searches several resource types at once: not offered (501, as RFC 7644 §3.4.3 allows);
# /Users/.search and /Groups/.search are. scim2-tester skips its check on the 501.
NOT_RUNNABLE[("User", "search_with_attributes")] = "root /.search (several types at once) is not offered: 501"


def scim_token(client: dict[str, str]) -> str:
    """An access token of a SCIM client: the client-credentials grant at the stack's token endpoint."""
    answer = requests.post(
        client["tokenUrl"],
        data={"grant_type": "client_credentials", "scope": client["scope"]},
        auth=(client["clientId"], client["clientSecret"]),
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def scim_client_of(stack: Stack, agency_id: str) -> dict[str, str]:
    return next(c for c in stack["scimClients"] if c["agencyId"] == agency_id)


class Scim:
    """/scim/v2 of the stack with one SCIM client's token."""

    def __init__(self, stack: Stack, agency_id: str) -> None:
        self.base = stack["apiUrl"] + "/scim/v2"
        self.token = scim_token(scim_client_of(stack, agency_id))

    def call(self, method: str, path: str, body: Any = None, **params: str) -> requests.Response:
        return requests.request(
            method,
            self.base + path,
            json=body,
            params=params or None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": SCIM_JSON},
            timeout=HTTP_TIMEOUT_SECONDS,
        )


def test_the_state_file_has_one_scim_client_per_seeded_agency(local_stack: Stack) -> None:
    # Given the contract's v2 state file
    clients = local_stack["scimClients"]
    # Then each seeded agency has one client, with the tablet client's token endpoint and the SCIM scope
    assert sorted(c["agencyId"] for c in clients) == sorted(a["agencyId"] for a in local_stack["agencies"])
    for client in clients:
        assert set(client) == {"agencyId", "clientId", "clientSecret", "tokenUrl", "scope"}
        assert client["tokenUrl"] == local_stack["tabletClient"]["tokenUrl"]
        assert client["scope"] == "intake/scim"
    assert len({c["clientId"] for c in clients}) == len(clients)


def test_scim2_tester_passes_every_check_it_can_run(local_stack: Stack) -> None:
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import Status, check_server

    # Given scim2-tester's client with the southern agency's SCIM client token
    token = scim_token(scim_client_of(local_stack, "southern-doc"))
    http = Client(base_url=local_stack["apiUrl"] + "/scim/v2", headers={"Authorization": f"Bearer {token}"})

    # When it runs every check it has, against what the discovery endpoints publish
    results = check_server(SyncSCIMClient(http), raise_exceptions=False)

    # Then every check passes (SUCCESS, COMPLIANT or ACCEPTABLE), but exactly those listed as not runnable here
    passed = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
    not_passed = {(r.resource_type, r.title): (r.status, r.reason) for r in results if r.status not in passed}
    assert set(not_passed) == set(NOT_RUNNABLE), not_passed
    # And the User checks all ran: creation, query, filters, attributes, replacement, PATCH add/replace/remove of every
    # attribute the User and enterprise schemas publish, deletion, and the discovery endpoints
    user_checks = {r.title for r in results if r.resource_type == "User" and r.status in passed}
    assert {"object_creation", "object_query", "object_replacement", "object_deletion"} <= user_checks
    assert {"check_add_attribute", "check_replace_attribute", "check_remove_attribute"} <= user_checks
    assert len([r for r in results if r.status in passed]) >= 40


def _id_token_after_first_sign_in(stack: Stack, username: str, temporary: str, chosen: str) -> str:
    """The staff member's first sign-in: the temporary password, then the one they choose (NEW_PASSWORD_REQUIRED)."""
    idp = cognito(stack)
    started = idp.initiate_auth(
        ClientId=stack["userPoolClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": temporary},
    )
    assert started.get("ChallengeName") == "NEW_PASSWORD_REQUIRED", started
    answered = idp.respond_to_auth_challenge(
        ClientId=stack["userPoolClientId"],
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=started["Session"],
        ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": chosen},
    )
    return str(answered["AuthenticationResult"]["IdToken"])


def test_entra_sequence_provisions_grants_and_disables_a_staff_member(local_stack: Stack) -> None:
    north = Scim(local_stack, "northern-doc")
    agency = next(a for a in local_stack["agencies"] if a["agencyId"] == "northern-doc")
    cedar = next(f for f in agency["facilities"] if f["facilityId"] == "north-cedar-creek")
    riverbend = next(f for f in agency["facilities"] if f["facilityId"] == "north-riverbend")
    username = f"entra-{uuid.uuid4().hex[:8]}"

    # Given Entra's lookup of a user it is about to provision: nobody yet
    found = north.call("GET", "/Users", filter=f'userName eq "{username}"')
    assert found.status_code == 200 and found.headers["Content-Type"].startswith(SCIM_JSON)
    assert (found.json()["totalResults"], found.json().get("Resources", [])) == (0, [])

    # When Entra creates them (core and enterprise attributes; a temporary password they change at first sign-in)
    temporary = "Temp-" + uuid.uuid4().hex[:10] + "!A1"
    created = north.call(
        "POST",
        "/Users",
        {
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "externalId": f"aad-{username}",
            "userName": username,
            "active": True,
            "displayName": "Professor Jones",
            "title": "Teacher",
            "name": {"givenName": "Pat", "familyName": "Jones"},
            "emails": [{"primary": True, "type": "work", "value": f"{username}@doc.example"}],
            ENTERPRISE_SCHEMA: {"department": "Education", "employeeNumber": "E-1"},
            "password": temporary,
        },
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    assert "password" not in created.json()

    # And it replaces the title, in its own shape (capitalised op)
    patched = north.call(
        "PATCH",
        f"/Users/{user_id}",
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "Replace", "path": "title", "value": "Professor"}]},
    )
    assert patched.status_code == 200 and patched.json()["title"] == "Professor", patched.text

    # And adds them to a facility role's group, found by its displayName
    group_name = f"{cedar['name']} - FacilityAdmin"
    groups = north.call("GET", "/Groups", filter=f'displayName eq "{group_name}"', excludedAttributes="members")
    assert groups.status_code == 200 and groups.json()["totalResults"] == 1, groups.text
    group_id = groups.json()["Resources"][0]["id"]
    added = north.call(
        "PATCH",
        f"/Groups/{group_id}",
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "Add", "path": "members", "value": [{"value": user_id}]}]},
    )
    assert added.status_code == 200, added.text
    assert north.call("GET", f"/Users/{user_id}").json()["groups"][0]["value"] == group_id

    # Then the staff member signs in and has exactly that scope: FacilityAdmin at Cedar Creek, nothing elsewhere
    token = _id_token_after_first_sign_in(local_stack, username, temporary, "Chosen-" + uuid.uuid4().hex[:10] + "!B2")
    staff_api = {"Authorization": f"Bearer {token}"}
    base = local_stack["apiUrl"]
    facilities = requests.get(f"{base}/facilities", headers=staff_api, timeout=HTTP_TIMEOUT_SECONDS)
    assert facilities.status_code == 200
    assert [f["facilityId"] for f in facilities.json()["facilities"]] == [cedar["facilityId"]]

    def learner_at(facility: dict[str, Any]) -> requests.Response:
        body = {
            "docId": uuid.uuid4().hex[:9].upper(),
            "firstName": "Sam",
            "lastName": "Reyes",
            "dateOfBirth": "04/05/1990",
            "locationId": facility["housingUnits"][0]["locationId"],
        }
        return requests.post(f"{base}/learners", json=body, headers=staff_api, timeout=HTTP_TIMEOUT_SECONDS)

    assert learner_at(cedar).status_code == 201
    assert learner_at(riverbend).status_code == 403

    # When Entra disables them (its shape: a capitalised op and the boolean as a string)
    disabled = north.call(
        "PATCH",
        f"/Users/{user_id}",
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    )
    assert disabled.status_code == 200 and disabled.json()["active"] is False, disabled.text

    # Then their next API call is refused, and a fresh sign-in too
    again = requests.get(f"{base}/facilities", headers=staff_api, timeout=HTTP_TIMEOUT_SECONDS)
    assert again.status_code in (401, 403)
    idp = cognito(local_stack)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(
            ClientId=local_stack["userPoolClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": "Chosen-any!B2"},
        )

    # And another agency's user ids answer 404 to this client, as ones that do not exist
    south = Scim(local_stack, "southern-doc")
    theirs = south.call(
        "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": f"south-{uuid.uuid4().hex[:8]}", "active": True}
    )
    assert theirs.status_code == 201, theirs.text
    for other in (theirs.json()["id"], "south-agency-admin", "pine-woods-admin", "no-such-user"):
        assert north.call("GET", f"/Users/{other}").status_code == 404, other
    assert south.call("GET", f"/Users/{user_id}").status_code == 404
