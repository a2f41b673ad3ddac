"""The local stack's Cognito token endpoint (client credentials) and its API Gateway-like token checks, over a moto
server in this process (the verifier reads the pool's JWKS over HTTP, as the local stack does)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import boto3
import jwt
import pytest

from local.local_api import API_FUNCTION_ID, LocalApi, TokenVerifier, api_routes, cors_headers
from local.resources import LocalUserPool, provision, provision_user_pool
from local.token_endpoint import TOKEN_PATH, TokenEndpoint
from tests.e2e.conftest import free_port

REGION = "us-east-1"
SCOPE = "intake/learner-sign-ins"
FORM = ("Content-Type", "application/x-www-form-urlencoded")
STAFF, STAFF_PASSWORD = "edge-admin", "Edge-Admin-Pass-1!"


@dataclass
class Stack:
    endpoint: str
    pool: LocalUserPool
    api: LocalApi
    cognito: Any


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A moto server, the template's resources and user pool in it, and the local API in front of ApiFunction."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        from tests.conftest import reset_intake_caches

        reset_intake_caches()
        resources = provision(REGION)
        pool = provision_user_pool(REGION)
        resources.user_pool_id, resources.user_pool_client_id = pool.pool_id, pool.client_id
        resources.tablet_client_id = pool.tablet_client_id
        for name, value in resources.environment().items():
            patch.setenv(name, value)
        cognito = boto3.client("cognito-idp", region_name=REGION)
        cognito.admin_create_user(UserPoolId=pool.pool_id, Username=STAFF, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=pool.pool_id, Username=STAFF, Password=STAFF_PASSWORD, Permanent=True
        )
        api = LocalApi(
            routes=api_routes(API_FUNCTION_ID, resources.template_path),
            verifier=TokenVerifier(endpoint, REGION, pool.pool_id, pool.client_id),
            function=resources.functions[API_FUNCTION_ID],
            region=REGION,
            account_id=resources.account_id,
            cors_headers=cors_headers(resources.template_path),
            token_endpoint=TokenEndpoint(cognito=cognito, region=REGION, user_pool_id=pool.pool_id),
        )
        reset_intake_caches()
        try:
            yield Stack(endpoint=endpoint, pool=pool, api=api, cognito=cognito)
        finally:
            reset_intake_caches()
            server.stop()


def _basic(client_id: str, secret: str) -> tuple[str, str]:
    return ("Authorization", "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode())


def _token_request(stack: Stack, form: dict[str, str], *headers: tuple[str, str]) -> tuple[int, dict[str, Any]]:
    status, _, body = stack.api.respond("POST", TOKEN_PATH, [FORM, *headers], urlencode(form).encode(), "127.0.0.1")
    return status, json.loads(body)


def _tablet_token(stack: Stack, **form: str) -> str:
    pool = stack.pool
    status, body = _token_request(
        stack,
        {"grant_type": "client_credentials", "scope": SCOPE, **form},
        _basic(pool.tablet_client_id, pool.tablet_client_secret),
    )
    assert status == 200, body
    return str(body["access_token"])


def _id_token(stack: Stack) -> str:
    result = stack.cognito.initiate_auth(
        ClientId=stack.pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": STAFF, "PASSWORD": STAFF_PASSWORD},
    )
    return str(result["AuthenticationResult"]["IdToken"])


def _sign_in_route(stack: Stack) -> Any:
    return next(route for route in stack.api.routes if route.path == "/learner-sign-ins")


def _staff_route(stack: Stack) -> Any:
    return next(route for route in stack.api.routes if (route.method, route.path) == ("GET", "/learners"))


# ------------------------------------------------------------------ the token endpoint


def test_given_the_tablet_clients_secret_then_an_access_token_the_scoped_route_takes(stack: Stack) -> None:
    pool = stack.pool
    # Given the tablet client's id and secret in HTTP Basic, as Cognito's token endpoint takes them
    status, body = _token_request(
        stack,
        {"grant_type": "client_credentials", "scope": SCOPE},
        _basic(pool.tablet_client_id, pool.tablet_client_secret),
    )
    # Then Cognito's answer: a bearer access token valid for the client's 60 minutes
    assert status == 200
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    # And it is an RS256 token of the pool's key (kid "dummy") with the claims of Cognito's client-credentials grant
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (header["alg"], header["kid"]) == ("RS256", "dummy")
    assert claims["sub"] == claims["client_id"] == pool.tablet_client_id
    assert (claims["token_use"], claims["scope"], claims["version"]) == ("access", SCOPE, 2)
    assert claims["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{pool.pool_id}"
    assert claims["exp"] - claims["iat"] == 3600 and "jti" in claims and "auth_time" in claims
    # And the local API's verifier takes it on the scoped route, passing its claims on as strings
    refused, passed = stack.api.verifier.verify(f"Bearer {body['access_token']}", _sign_in_route(stack).scopes)
    assert refused is None and passed is not None
    assert (passed["client_id"], passed["token_use"], passed["scope"]) == (pool.tablet_client_id, "access", SCOPE)


def test_the_client_may_send_its_secret_in_the_form_and_leave_the_scope_out(stack: Stack) -> None:
    pool = stack.pool
    form = {
        "grant_type": "client_credentials",
        "client_id": pool.tablet_client_id,
        "client_secret": pool.tablet_client_secret,
    }
    status, body = _token_request(stack, form)
    assert status == 200
    # (no scope asked: all of the client's allowed scopes, as Cognito grants)
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["scope"] == SCOPE


@pytest.mark.parametrize(
    ("case", "form", "credentials", "error"),
    [
        ("a wrong secret", {"grant_type": "client_credentials"}, ("tablet", "wrong"), "invalid_client"),
        ("an unknown client", {"grant_type": "client_credentials"}, ("nobody", "x"), "invalid_client"),
        ("no credentials", {"grant_type": "client_credentials"}, None, "invalid_client"),
        (
            "another grant",
            {"grant_type": "password", "username": "u", "password": "p"},
            ("tablet", None),
            "unsupported_grant_type",
        ),
        ("no grant", {"scope": SCOPE}, ("tablet", None), "invalid_request"),
        (
            "an unknown scope",
            {"grant_type": "client_credentials", "scope": "intake/admin"},
            ("tablet", None),
            "invalid_scope",
        ),
        (
            "one scope too many",
            {"grant_type": "client_credentials", "scope": f"{SCOPE} openid"},
            ("tablet", None),
            "invalid_scope",
        ),
        (
            "the staff client (no secret, no such flow)",
            {"grant_type": "client_credentials"},
            ("staff", ""),
            "invalid_client",
        ),
    ],
)
def test_given_a_request_cognito_refuses_then_its_400_error(
    stack: Stack, case: str, form: dict[str, str], credentials: Any, error: str
) -> None:
    pool = stack.pool
    headers = []
    if credentials is not None:
        who, secret = credentials
        client_id = {"tablet": pool.tablet_client_id, "staff": pool.client_id}.get(who, who)
        headers.append(_basic(client_id, pool.tablet_client_secret if secret is None else secret))
    status, body = _token_request(stack, form, *headers)
    assert (status, body) == (400, {"error": error}), case


def test_a_token_request_that_is_not_a_form_is_invalid(stack: Stack) -> None:
    pool = stack.pool
    headers = [("Content-Type", "application/json"), _basic(pool.tablet_client_id, pool.tablet_client_secret)]
    status, _, body = stack.api.respond("POST", TOKEN_PATH, headers, b'{"grant_type": "client_credentials"}', "::1")
    assert (status, json.loads(body)) == (400, {"error": "invalid_request"})


# ------------------------------------------------------------------ the local API's checks


def test_given_a_staff_id_token_on_the_scoped_route_then_the_gateway_answers_403(stack: Stack) -> None:
    # Given a valid staff ID token of the pool
    token = _id_token(stack)
    # When it calls POST /learner-sign-ins
    status, _, body = stack.api.respond(
        "POST", "/learner-sign-ins", [("Authorization", token), ("Content-Type", "application/json")], b"{}", "::1"
    )
    # Then 403 PERMISSION_DENIED, as API Gateway's ACCESS_DENIED gateway response (before the function)
    assert (status, json.loads(body)["code"]) == (403, "PERMISSION_DENIED")
    # And the same token is taken on a staff route
    assert stack.api.verifier.verify(token, _staff_route(stack).scopes)[0] is None


def test_given_no_token_on_the_scoped_route_then_401(stack: Stack) -> None:
    status, _, body = stack.api.respond(
        "POST", "/learner-sign-ins", [("Content-Type", "application/json")], b"{}", "::1"
    )
    assert (status, json.loads(body)["code"]) == (401, "UNAUTHENTICATED")


def test_given_an_expired_tablet_token_then_401(stack: Stack) -> None:
    pool = stack.pool
    expired = stack.api.token_endpoint.sign(pool.tablet_client_id, SCOPE, 3600, now=time.time() - 7200)  # type: ignore[union-attr]
    assert stack.api.verifier.verify(expired, _sign_in_route(stack).scopes) == (401, None)
    status, _, body = stack.api.respond("POST", "/learner-sign-ins", [("Authorization", expired)], b"{}", "::1")
    assert (status, json.loads(body)["code"]) == (401, "UNAUTHENTICATED")


def test_given_a_token_of_another_pool_then_401(stack: Stack) -> None:
    # Given a pool of its own with the same key (moto signs every pool's tokens with one key) but another issuer
    other_pool = stack.cognito.create_user_pool(PoolName="elsewhere")["UserPool"]["Id"]
    other = TokenEndpoint(cognito=stack.cognito, region=REGION, user_pool_id=other_pool)
    token = other.sign(stack.pool.tablet_client_id, SCOPE, 3600)
    # Then the gateway refuses it: its iss is not this API's pool
    assert stack.api.verifier.verify(token, _sign_in_route(stack).scopes) == (401, None)
    assert stack.api.verifier.verify(token, ()) == (401, None)


def test_given_a_tampered_tablet_token_then_401(stack: Stack) -> None:
    head, payload, signature = _tablet_token(stack).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = f"{SCOPE} intake/admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert stack.api.verifier.verify(f"{head}.{forged}.{signature}", _sign_in_route(stack).scopes) == (401, None)


def test_given_an_access_token_without_the_scope_then_403(stack: Stack) -> None:
    # Given an access token of the pool whose scope is another (a staff member's own access token has none of ours)
    token = stack.api.token_endpoint.sign(stack.pool.tablet_client_id, "aws.cognito.signin.user.admin", 3600)  # type: ignore[union-attr]
    assert stack.api.verifier.verify(token, _sign_in_route(stack).scopes) == (403, None)
    staff_access = stack.cognito.initiate_auth(
        ClientId=stack.pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": STAFF, "PASSWORD": STAFF_PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    assert stack.api.verifier.verify(staff_access, _sign_in_route(stack).scopes) == (403, None)


def test_given_the_tablet_token_on_a_staff_route_then_the_function_answers_403(stack: Stack) -> None:
    # Given the tablet client's access token (which the local gateway passes on an unscoped route)
    token = _tablet_token(stack)
    # When it calls GET /learners, a staff route
    status, _, body = stack.api.respond(
        "GET", "/learners?docId=12345", [("Authorization", f"Bearer {token}")], b"", "::1"
    )
    # Then the function refuses it: 403 PERMISSION_DENIED (deployed, API Gateway answers 401 first: docs/security.md)
    answer = json.loads(body)
    assert (status, answer["code"]) == (403, "PERMISSION_DENIED")
    assert "machine client" in answer["message"]
