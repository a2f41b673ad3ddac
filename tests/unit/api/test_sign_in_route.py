"""POST /learner-sign-ins over the API handler: only the tablet client's access token with the scope reaches the
service; staff routes refuse a machine token; the sign-in errors' statuses, bodies and Retry-After."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from tests.integration.sign_in_helpers import SCOPE, api_event, call, sign_in, staff_id_claims, tablet_claims

TABLET = "tablet-client-1"
BODY = {"agencyId": "ag-north", "username": "learner1", "password": "correct horse battery"}


@pytest.fixture
def tablet(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """moto's tables, and TABLET_CLIENT_ID as the template sets it for ApiFunction."""
    from intake.settings import get_settings

    monkeypatch.setenv("TABLET_CLIENT_ID", TABLET)
    get_settings.cache_clear()
    return TABLET


def _attempts(aws: Any) -> list[dict[str, Any]]:
    import boto3

    table = aws.tables["SignInAttemptsTable"]
    return list(boto3.client("dynamodb", region_name="us-east-1").scan(TableName=table)["Items"])


@pytest.mark.parametrize(
    ("case", "changes"),
    [
        ("a staff ID token", {"token_use": "id", "scope": None, "client_id": None}),
        ("an access token without the scope", {"scope": "aws.cognito.signin.user.admin"}),
        ("an access token with another scope of the pool", {"scope": "intake/other"}),
        ("an access token of another client", {"client_id": "another-client"}),
        ("claims without token_use", {"token_use": None}),
        ("a token whose scope is only a prefix of the one needed", {"scope": "intake/learner-sign-in"}),
    ],
)
def test_given_a_token_that_is_not_the_tablet_clients_with_the_scope_then_403_and_nothing_is_counted(
    tablet: str, aws: Any, lambda_context: Any, case: str, changes: dict[str, str | None]
) -> None:
    # Given the claims of that token on the sign-in route
    # When it is called with a learner's credentials
    status, body, _ = sign_in(tablet, BODY, lambda_context, **changes)
    # Then 403 PERMISSION_DENIED (the service never ran) and no attempt is stored
    assert (status, body["code"]) == (403, "PERMISSION_DENIED"), case
    assert _attempts(aws) == []


def test_given_staff_id_claims_on_the_sign_in_route_then_403(tablet: str, aws: Any, lambda_context: Any) -> None:
    # Given a staff member's ID token claims, as API Gateway passes them
    event = api_event("POST", "/learner-sign-ins", staff_id_claims("sys"), BODY)
    # When the route runs
    status, body, _ = call(event, lambda_context)
    # Then 403: staff do not sign learners in
    assert (status, body["code"]) == (403, "PERMISSION_DENIED")
    assert _attempts(aws) == []


def test_given_no_claims_on_the_sign_in_route_then_401(tablet: str, aws: Any, lambda_context: Any) -> None:
    status, body, _ = call(api_event("POST", "/learner-sign-ins", None, BODY), lambda_context)
    assert (status, body["code"]) == (401, "UNAUTHENTICATED")
    assert _attempts(aws) == []


def test_given_no_tablet_client_configured_then_even_its_claims_are_refused(
    aws: Any, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    # Given a deployment whose TABLET_CLIENT_ID is empty, and claims whose client_id is empty too
    from intake.settings import get_settings

    monkeypatch.setenv("TABLET_CLIENT_ID", "")
    get_settings.cache_clear()
    status, body, _ = sign_in("", BODY, lambda_context)
    # Then 403: an empty id matches nothing
    assert (status, body["code"]) == (403, "PERMISSION_DENIED")


@pytest.mark.parametrize(
    ("method", "path", "body", "query"),
    [
        ("GET", "/learners", None, {"docId": "12345"}),
        ("GET", "/facilities", None, None),
        (
            "POST",
            "/learners",
            {
                "docId": "555",
                "firstName": "A",
                "lastName": "B",
                "dateOfBirth": "01/02/1990",
                "locationId": "unit-ridge-a",
            },
            None,
        ),
    ],
)
def test_given_the_tablet_clients_token_on_a_staff_route_then_403(
    tablet: str, aws: Any, directory: Any, lambda_context: Any, method: str, path: str, body: Any, query: Any
) -> None:
    import boto3

    # Given the tablet client's access token claims (scope and all) on a staff route
    event = api_event(method, path, tablet_claims(tablet), body, query)
    # When the route runs
    status, answer, _ = call(event, lambda_context)
    # Then 403 PERMISSION_DENIED: a machine client is nobody's requestor, and nothing was written
    assert (status, answer["code"]) == (403, "PERMISSION_DENIED")
    assert "machine client" in answer["message"]
    learners = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=aws.tables["LearnersTable"])
    assert learners["Items"] == []


def test_given_a_staff_id_token_then_staff_routes_still_answer(
    tablet: str, directory: Any, lambda_context: Any
) -> None:
    status, body, _ = call(api_event("GET", "/facilities", staff_id_claims("sys")), lambda_context)
    assert status == 200 and body["facilities"]


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("an unknown field", {**BODY, "remember": True}),
        ("a blank username", {**BODY, "username": ""}),
        ("an agency id with a slash", {**BODY, "agencyId": "ag/north"}),
        ("a password longer than 256", {**BODY, "password": "p" * 257}),
        ("no password", {"agencyId": "ag-north", "username": "learner1"}),
        ("a username longer than 64", {**BODY, "username": "u" * 65}),
    ],
)
def test_given_a_body_outside_the_model_then_400_without_echoing_the_password(
    tablet: str, aws: Any, lambda_context: Any, case: str, body: dict[str, Any]
) -> None:
    status, answer, _ = sign_in(tablet, body, lambda_context)
    assert (status, answer["code"]) == (400, "VALIDATION_FAILED"), case
    assert "correct horse" not in str(answer) and "p" * 257 not in str(answer)
    assert _attempts(aws) == []


def test_the_scope_claim_is_read_as_api_gateway_passes_it() -> None:
    from api_routes.requestor import scopes_of

    assert scopes_of({"scope": f"openid {SCOPE}"}) == {"openid", SCOPE}
    assert scopes_of({"scope": [SCOPE]}) == {SCOPE}
    assert scopes_of({}) == set()


# ------------------------------------------------------------------ error mapping (api_routes.errors)


def _raising(error: Exception) -> APIGatewayRestResolver:
    """A resolver with the API's error handlers and one route that raises the error."""
    from api_routes.errors import register_error_handlers

    app = APIGatewayRestResolver()
    register_error_handlers(app)

    @app.post("/raise")
    def _raise() -> None:
        raise error

    return app


def _answer(error: Exception, lambda_context: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    import json

    event = api_event("POST", "/raise", None)
    response = _raising(error).resolve(event, lambda_context)
    headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers.update(response.get("headers") or {})
    return response["statusCode"], json.loads(response["body"]), headers


def test_invalid_credentials_is_401_with_one_body_for_every_cause(lambda_context: Any) -> None:
    from intake.errors import InvalidCredentials

    status, body, headers = _answer(InvalidCredentials(), lambda_context)
    assert status == 401
    assert body == {"code": "INVALID_CREDENTIALS", "message": InvalidCredentials().message}
    assert "Retry-After" not in headers


def test_account_disabled_is_403(lambda_context: Any) -> None:
    from intake.errors import AccountDisabled

    status, body, _ = _answer(AccountDisabled(), lambda_context)
    assert (status, body) == (403, {"code": "ACCOUNT_DISABLED", "message": AccountDisabled().message})


@pytest.mark.parametrize("seconds", [1, 61, 900])
def test_locked_out_is_429_with_retry_after_in_the_body_and_the_header(lambda_context: Any, seconds: int) -> None:
    from intake.errors import LockedOut

    status, body, headers = _answer(LockedOut(seconds), lambda_context)
    assert status == 429
    assert body == {"code": "LOCKED_OUT", "message": LockedOut(seconds).message, "retryAfter": seconds}
    assert headers["Retry-After"] == str(seconds)
