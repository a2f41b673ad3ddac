"""moto's Cognito as the staff page's sign-in library needs it locally: an invited staff member's first sign-in."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local.moto_cognito import describe_new_password_challenge

TEMPORARY, CHOSEN = "Temp-Password-1x", "Chosen-Password-2y"


@pytest.fixture
def pool() -> Any:
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id = client.create_user_pool(PoolName="staff")["UserPool"]["Id"]
        app = client.create_user_pool_client(
            UserPoolId=pool_id, ClientName="page", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        # an invited staff member: a temporary password, to be changed at the first sign-in
        client.admin_create_user(
            UserPoolId=pool_id, Username="invited", TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS"
        )
        yield client, app


def _first_sign_in(client: Any, app: str) -> dict[str, Any]:
    return dict(
        client.initiate_auth(
            ClientId=app,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "invited", "PASSWORD": TEMPORARY},
        )
    )


def test_the_new_password_challenge_carries_the_attributes_the_browser_sdk_parses(pool: Any) -> None:
    client, app = pool
    # Given moto's Cognito patched as the local stack patches it (twice: it is idempotent)
    describe_new_password_challenge()
    describe_new_password_challenge()
    # When the invited staff member signs in with the temporary password
    started = _first_sign_in(client, app)
    # Then the challenge names the new password and carries JSON user and required attributes (none)
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    parameters = started["ChallengeParameters"]
    assert json.loads(parameters["userAttributes"]) == {} and json.loads(parameters["requiredAttributes"]) == []
    # And answering it with a new password still gives tokens, and the new password signs in from then on
    answered = client.respond_to_auth_challenge(
        ClientId=app,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=started["Session"],
        ChallengeResponses={"USERNAME": "invited", "NEW_PASSWORD": CHOSEN},
    )
    assert answered["AuthenticationResult"]["IdToken"]
    again = client.initiate_auth(
        ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "invited", "PASSWORD": CHOSEN}
    )
    assert "ChallengeName" not in again and again["AuthenticationResult"]["IdToken"]
