"""SCIM 2.0 through the API handler as API Gateway calls it (an access token's claims): SCIM bodies and errors,
the content type, the client check, and the routes' answers for Entra's and Okta's requests."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from intake.dal import scim as scim_store
from intake.dal import staff as staff_store
from tests.conftest import AGENCY_A, AGENCY_B, FAC_A1, load_event, reset_intake_caches

SCIM = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def scim(directory: dict, monkeypatch: pytest.MonkeyPatch, lambda_context: Any):
    """Call /scim/v2 as a SCIM client bound to agency A (or with other claims)."""
    import api_handler
    from local.resources import provision_user_pool

    monkeypatch.setenv("USER_POOL_ID", provision_user_pool("us-east-1").pool_id)
    reset_intake_caches()
    scim_store.bind_client(AGENCY_A, "north-client")
    scim_store.bind_client(AGENCY_B, "south-client")

    def call(
        method: str,
        path: str,
        body: Any = None,
        query: dict | None = None,
        client_id: str = "north-client",
        claims: dict | None = None,
        raw_body: str | None = None,
    ) -> tuple[int, Any, dict]:
        event = copy.deepcopy(load_event("api_request.json"))
        event["httpMethod"] = method
        event["path"] = f"/scim/v2{path}"
        event["resource"] = "/scim/v2/{proxy+}"
        event["headers"] = {"Host": "api.example", "Content-Type": SCIM}
        event["multiValueHeaders"] = {"Host": ["api.example"], "Content-Type": [SCIM]}
        event["requestContext"]["httpMethod"] = method
        given = (
            claims if claims is not None else {"token_use": "access", "scope": "intake/scim", "client_id": client_id}
        )
        event["requestContext"]["authorizer"] = {"claims": given} if given else {}
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
        event["body"] = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        response = api_handler.lambda_handler(event, lambda_context)
        headers = dict(response.get("headers") or {})
        headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items() if v})
        text = response["body"]
        return response["statusCode"], (json.loads(text) if text else None), headers

    return call


def _user(username: str = "okta-user", **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER_SCHEMA],
        "userName": username,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": f"{username}@doc.example", "primary": True}],
        "active": True,
        **extra,
    }


def test_okta_looks_up_then_creates_and_every_answer_is_scim_json(scim) -> None:
    # Given Okta's lookup before creating
    status, body, headers = scim(
        "GET", "/Users", query={"filter": 'userName eq "okta-user"', "startIndex": "1", "count": "100"}
    )
    # Then it finds nobody, in a SCIM list
    assert status == 200 and headers["Content-Type"] == SCIM
    assert body["totalResults"] == 0 and body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]

    # When it creates the user
    status, created, headers = scim("POST", "/Users", _user())
    # Then 201 with the resource and where it lives; the record exists with no grant
    assert status == 201, created
    assert created["id"] == "okta-user" and headers["Location"] == "https://api.example/scim/v2/Users/okta-user"
    stored = staff_store.get_staff("okta-user")
    assert stored is not None and stored.agency_id == AGENCY_A and stored.grants == ()
    assert (stored.first_name, stored.last_name, stored.email) == ("Ada", "Lovelace", "okta-user@doc.example")

    # And a second lookup finds it, by userName in any letter case and with `and`
    status, body, _ = scim("GET", "/Users", query={"filter": 'userName eq "OKTA-USER" and active eq true'})
    assert (status, body["totalResults"], body["Resources"][0]["id"]) == (200, 1, "okta-user")


def test_errors_are_scim_errors_never_5xx(scim) -> None:
    cases = [
        ("GET", "/Users", None, {"filter": "userName eq"}, 400, "invalidFilter"),
        ("POST", "/Users", {"schemas": [USER_SCHEMA]}, None, 400, None),
        ("POST", "/Users", "not an object", None, 400, None),
        ("GET", "/Users/nobody", None, None, 404, None),
        ("GET", "/NoSuchEndpoint", None, None, 404, None),
        (
            "PATCH",
            "/Users/teacher",
            {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "jump", "path": "title"}]},
            None,
            400,
            None,
        ),
    ]
    for method, path, body, query, want, scim_type in cases:
        # When a request is wrong in one way
        status, answer, headers = scim(method, path, body, query)
        # Then the answer is SCIM's error body with the status as a string, as SCIM JSON
        assert status == want, (method, path, answer)
        assert answer["schemas"] == [ERROR_SCHEMA] and answer["status"] == str(want), answer
        assert headers["Content-Type"] == SCIM
        if scim_type:
            assert answer["scimType"] == scim_type
    # And a body that is not JSON at all
    status, answer, _ = scim("POST", "/Users", raw_body="{nope")
    assert status == 400 and answer["scimType"] == "invalidSyntax"


def test_only_a_bound_scim_clients_access_token_is_taken(scim) -> None:
    # A staff ID token, a token without the scope, and a client bound to no agency
    assert scim("GET", "/Users", claims={"token_use": "id", "cognito:username": "north"})[0] == 403
    assert (
        scim(
            "GET",
            "/Users",
            claims={"token_use": "access", "scope": "intake/learner-sign-ins", "client_id": "north-client"},
        )[0]
        == 403
    )
    assert scim("GET", "/Users", client_id="unbound")[0] == 403
    assert scim("GET", "/Users", claims={})[0] == 401


def test_another_agencys_users_answer_404_to_every_method(scim) -> None:
    # Given a user the south client made
    assert scim("POST", "/Users", _user("south-user"), client_id="south-client")[0] == 201
    # When the north client reads, changes or deletes it, or the south agency's own staff
    for user_id in ("south-user", "bay"):
        for method, body in (
            ("GET", None),
            ("PUT", _user(user_id)),
            ("PATCH", {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "active", "value": False}]}),
            ("DELETE", None),
        ):
            # Then it is as if it did not exist, and nothing changed
            assert scim(method, f"/Users/{user_id}", body)[0] == 404, (method, user_id)
    assert staff_store.get_staff("south-user").active and staff_store.get_staff("bay").active


def test_discovery_endpoints(scim) -> None:
    status, config, _ = scim("GET", "/ServiceProviderConfig")
    assert status == 200 and config["patch"]["supported"] is True and config["filter"]["supported"] is True
    status, types, _ = scim("GET", "/ResourceTypes")
    assert {t["name"] for t in types["Resources"]} == {"User", "Group"}
    status, schemas, _ = scim("GET", "/Schemas")
    ids = {s["id"] for s in schemas["Resources"]}
    assert ids == {
        USER_SCHEMA,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    }
    assert scim("GET", f"/Schemas/{USER_SCHEMA}")[0] == 200
    assert scim("GET", "/ResourceTypes/User")[0] == 200


def test_entra_adds_a_group_member_and_deletes_to_disable(scim) -> None:
    # Given a user Entra created
    assert scim("POST", "/Users", _user("entra-user"))[0] == 201
    # When Entra adds them to a facility's Educator group in its shape
    status, group, _ = scim(
        "PATCH",
        f"/Groups/{FAC_A1}.Educator",
        {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": "entra-user"}]}],
        },
    )
    # Then they hold the grant
    assert status == 200, group
    assert "entra-user" in {m["value"] for m in group["members"]}
    assert [(g.role.value, g.facility_id) for g in staff_store.get_staff("entra-user").grants] == [("Educator", FAC_A1)]
    # When Entra deletes the user
    status, body, _ = scim("DELETE", "/Users/entra-user")
    # Then 204, SCIM answers 404 for it, and the record stays, disabled
    assert (status, body) == (204, None)
    assert scim("GET", "/Users/entra-user")[0] == 404
    kept = staff_store.get_staff("entra-user")
    assert kept is not None and kept.active is False


def test_search_by_post_and_attributes(scim) -> None:
    # Given a user
    assert scim("POST", "/Users", _user("searched", title="Teacher"))[0] == 201
    # When searching by POST with a filter and the attributes wanted
    status, body, _ = scim(
        "POST",
        "/Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "searched"',
            "attributes": ["title"],
        },
    )
    # Then the match, with the attributes asked for (and those always returned)
    assert status == 200, body
    assert body["totalResults"] == 1
    assert set(body["Resources"][0]) == {"schemas", "id", "title"}
    # And the root search, several types at once, is not offered
    status, body, _ = scim("POST", "/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})
    assert status == 501 and body["status"] == "501"
    # And a read-only discovery endpoint answers other methods 405
    status, body, _ = scim("DELETE", "/Schemas")
    assert status == 405 and body["schemas"] == [ERROR_SCHEMA]


def test_odd_requests_get_4xx_never_5xx(scim) -> None:
    # Given a user to aim at
    assert scim("POST", "/Users", _user("target"))[0] == 201
    huge = _user("huge", addresses=[{"streetAddress": "x" * 1000, "type": "work"} for _ in range(100)])
    cases = [
        ("POST", "/Users", huge, None),
        ("POST", "/Users", _user("bad name!"), None),
        ("POST", "/Users", _user("a" * 300), None),
        ("POST", "/Users", _user("longtitle", title="t" * 500), None),
        ("POST", "/Users", [], None),
        ("PUT", "/Users/target", {"schemas": [USER_SCHEMA]}, None),
        ("PATCH", "/Users/target", {"schemas": [PATCH_SCHEMA], "Operations": []}, None),
        ("PATCH", "/Users/target", {"schemas": [PATCH_SCHEMA]}, None),
        ("PATCH", "/Users/target", {"Operations": [{"op": "add", "path": "emails", "value": "no-list"}]}, None),
        ("PATCH", "/Groups/nonsense", {"schemas": [PATCH_SCHEMA], "Operations": []}, None),
        ("GET", "/Users", None, {"count": "x", "startIndex": "y"}),
        ("GET", "/Users", None, {"attributes": "no such[attr"}),
        ("GET", "/Users", None, {"filter": "x" * 5000}),
        ("GET", "/Groups", None, {"filter": 'members[value eq "x"'}),
        ("POST", "/Users/.search", {"filter": 1}, None),
        ("DELETE", "/Groups/nonsense", None, None),
    ]
    for method, path, body, query in cases:
        # When each odd request is sent
        status, answer, _ = scim(method, path, body, query)
        # Then it is a SCIM error of the 4xx kind, and the target is unchanged
        assert 400 <= status < 500, (method, path, status, answer)
        assert answer["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"], answer
    assert staff_store.get_staff("huge") is None and staff_store.get_staff("bad name!") is None
    assert staff_store.get_staff("target").active  # type: ignore[union-attr]
