"""Staff MFA (finding 10): with StaffMfa=ADMINS_REQUIRED the API refuses SystemAdmin and AgencyAdmin logins that have
no authenticator app (403 MFA_REQUIRED); once TOTP is enrolled Cognito asks for its code at every sign-in and the API
serves them. FacilityAdmins and Educators may enrol, and are served either way."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import reset_intake_caches

PASSWORD = "Corr3ct-Horse-Battery!"


@pytest.fixture
def pool(aws: Any, directory: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The template's user pool in moto (TOTP on, MfaConfiguration OPTIONAL), with logins for the seeded staff."""
    from local.resources import provision_user_pool

    created = provision_user_pool("us-east-1")
    monkeypatch.setenv("USER_POOL_ID", created.pool_id)
    monkeypatch.setenv("STAFF_MFA", "ADMINS_REQUIRED")
    reset_intake_caches()
    cognito = _cognito()
    for username in ("north", "ridge"):
        cognito.admin_create_user(UserPoolId=created.pool_id, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=created.pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
    return {"pool_id": created.pool_id, "client_id": created.client_id}


def _cognito() -> Any:
    return boto3.client("cognito-idp", region_name="us-east-1")


def _enrol_totp(pool: dict[str, str], username: str) -> None:
    """What the staff page does when an administrator sets up an authenticator app."""
    cognito = _cognito()
    signed_in = cognito.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    access = signed_in["AuthenticationResult"]["AccessToken"]
    assert cognito.associate_software_token(AccessToken=access)["SecretCode"]
    assert cognito.verify_software_token(AccessToken=access, UserCode="123456")["Status"] == "SUCCESS"
    cognito.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )


def test_an_agency_admin_without_an_authenticator_is_refused(call_api, pool):
    # Given an AgencyAdmin whose login has no authenticator app, and a FacilityAdmin likewise
    # When each calls the API
    status, body, _ = call_api("GET", "/facilities", "north")
    facility_admin_status, _, _ = call_api("GET", "/facilities", "ridge")

    # Then the AgencyAdmin is refused with a code the page acts on, the FacilityAdmin is served
    assert status == 403
    assert body["code"] == "MFA_REQUIRED"
    assert "authenticator app" in body["message"]
    assert facility_admin_status == 200


def test_a_system_admin_without_a_login_is_refused_too(call_api, pool):
    # Given the SystemAdmin "sys" of the directory, with no login in the pool at all
    # When they call the API
    status, body, _ = call_api("GET", "/agencies", "sys")

    # Then no authenticator means no access
    assert (status, body["code"]) == (403, "MFA_REQUIRED")


def test_after_enrolling_totp_the_admin_is_challenged_and_served(call_api, pool):
    # Given the AgencyAdmin enrols an authenticator app
    _enrol_totp(pool, "north")

    # When they sign in again, and call the API
    again = _cognito().initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "north", "PASSWORD": PASSWORD},
    )
    status, body, _ = call_api("GET", "/facilities", "north")

    # Then Cognito asks for the authenticator's code before any token, and the API serves them
    assert again["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert "AuthenticationResult" not in again
    assert status == 200, body


def test_with_staff_mfa_optional_admins_are_served_without_an_authenticator(call_api, pool, monkeypatch):
    # Given a stack deployed with StaffMfa=OPTIONAL
    monkeypatch.setenv("STAFF_MFA", "OPTIONAL")
    reset_intake_caches()

    # When an AgencyAdmin without an authenticator calls the API
    status, _, _ = call_api("GET", "/facilities", "north")

    # Then they are served (each staff member may still enrol one)
    assert status == 200
