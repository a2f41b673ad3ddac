"""POST /learner-sign-ins over the API handler with the real sign-in service and moto: what the tablet platform sees.

(Needs intake.sign_in_service from the signin-core branch: on the edge branch alone the service is a placeholder.)
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import AGENCY_A, UNIT_A1
from tests.integration.sign_in_helpers import sign_in

PASSWORD = "tablet-edge-pass-77"
PROFILE = {"learnerId", "agencyId", "username", "firstName", "lastName", "facilityId", "locationId"}


@pytest.fixture
def tablet(aws: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    from intake.settings import get_settings

    monkeypatch.setenv("TABLET_CLIENT_ID", "tablet-edge")
    monkeypatch.setenv("LEARNER_LOCKOUT_SECONDS", "60")
    get_settings.cache_clear()
    return "tablet-edge"


@pytest.fixture
def learner(directory: Any, call_api, tablet: str) -> dict[str, Any]:
    status, body, _ = call_api(
        "POST",
        "/learners",
        "ridge",
        {
            "docId": "4455667",
            "firstName": "Tab",
            "lastName": "Let",
            "dateOfBirth": "03/04/1992",
            "locationId": UNIT_A1,
            "password": PASSWORD,
        },
    )
    assert status == 201, body
    return dict(body["learner"])


def _attempt_items(aws: Any) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return list(client.scan(TableName=aws.tables["SignInAttemptsTable"])["Items"])


def _credentials(learner: dict[str, Any], login: str | None = None, password: str = PASSWORD) -> dict[str, str]:
    return {"agencyId": learner["agencyId"], "username": login or learner["username"], "password": password}


@pytest.mark.parametrize("login", ["username", "docId", "USERNAME"])
def test_given_the_right_password_then_200_with_the_profile_only(
    tablet: str, learner: dict[str, Any], aws: Any, lambda_context: Any, login: str
) -> None:
    # Given a learner created with a password, signed in by username (any case) or by DOC ID
    typed = learner["username"].upper() if login == "USERNAME" else learner[login]
    # When the tablet client signs them in
    status, body, _ = sign_in(tablet, _credentials(learner, typed), lambda_context)
    # Then 200 with the contract's profile: ids and names, never the DOC ID or the date of birth
    assert status == 200, body
    assert set(body) == {"learner"} and set(body["learner"]) == PROFILE
    assert {k: body["learner"][k] for k in PROFILE} == {k: learner[k] for k in PROFILE}
    assert learner["agencyId"] == AGENCY_A
    # And a success with no failures before it writes no counter
    assert _attempt_items(aws) == []


def test_given_a_wrong_password_or_an_unknown_username_then_one_401_body(
    tablet: str, learner: dict[str, Any], aws: Any, lambda_context: Any
) -> None:
    wrong = sign_in(tablet, _credentials(learner, password="not-" + PASSWORD), lambda_context)
    unknown = sign_in(tablet, _credentials(learner, "nobody-here"), lambda_context)
    assert wrong[0] == unknown[0] == 401
    assert wrong[1] == unknown[1] and wrong[1]["code"] == "INVALID_CREDENTIALS"
    assert "Retry-After" not in wrong[2]
    # And each failure is counted under a hash of the login, never the typed text
    items = _attempt_items(aws)
    assert len(items) == 2 and all(int(item["failures"]["N"]) == 1 for item in items)
    assert not {"nobody-here", learner["username"]} & {item["loginKey"]["S"] for item in items}


def test_given_five_failures_then_the_sixth_attempt_is_429_with_retry_after_even_with_the_right_password(
    tablet: str, learner: dict[str, Any], aws: Any, lambda_context: Any
) -> None:
    # Given 5 wrong passwords in a row
    statuses = [sign_in(tablet, _credentials(learner, password=f"wrong-{n}"), lambda_context)[0] for n in range(5)]
    assert statuses == [401] * 5
    # When the right password comes next
    status, body, headers = sign_in(tablet, _credentials(learner), lambda_context)
    # Then 429 LOCKED_OUT, retryAfter in the body and the same number in Retry-After (the wait doubled: it counted)
    assert (status, body["code"]) == (429, "LOCKED_OUT")
    assert isinstance(body["retryAfter"], int) and 60 < body["retryAfter"] <= 120
    assert headers["Retry-After"] == str(body["retryAfter"])
    (item,) = _attempt_items(aws)
    assert int(item["failures"]["N"]) == 6


def test_given_an_inactive_learner_then_403_account_disabled_only_after_the_right_password(
    tablet: str, learner: dict[str, Any], call_api, aws: Any, lambda_context: Any
) -> None:
    assert call_api("POST", f"/learners/{learner['learnerId']}/deactivate", "ridge")[0] == 200
    status, body, _ = sign_in(tablet, _credentials(learner), lambda_context)
    assert (status, body["code"]) == (403, "ACCOUNT_DISABLED")
    assert sign_in(tablet, _credentials(learner, password="wrong-one"), lambda_context)[1]["code"] == (
        "INVALID_CREDENTIALS"
    )


def test_given_a_staff_token_then_even_the_right_password_is_refused_and_not_counted(
    tablet: str, learner: dict[str, Any], aws: Any, lambda_context: Any
) -> None:
    status, body, _ = sign_in(tablet, _credentials(learner), lambda_context, token_use="id", client_id=None)
    assert (status, body["code"]) == (403, "PERMISSION_DENIED")
    assert _attempt_items(aws) == []
