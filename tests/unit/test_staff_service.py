"""Who is asking: an active staff record behind the token's username, and an authenticator for admins if required."""

from __future__ import annotations

import boto3
import pytest

from intake import staff_service
from intake.dal import staff as staff_store
from intake.domain import Role
from intake.errors import MfaRequired, Unauthenticated
from intake.settings import get_settings
from tests.conftest import reset_intake_caches


def test_an_active_staff_member_is_resolved(directory: dict) -> None:
    assert staff_service.resolve_requestor("ridge") == directory["ridge"]


@pytest.mark.parametrize("username", [None, ""])
def test_no_username_is_unauthenticated(directory: dict, username: str | None) -> None:
    with pytest.raises(Unauthenticated, match="Sign in"):
        staff_service.resolve_requestor(username)


def test_a_username_without_a_staff_record_is_unauthenticated(directory: dict) -> None:
    with pytest.raises(Unauthenticated, match="not set up as Intake staff"):
        staff_service.resolve_requestor("stranger")


def test_a_disabled_staff_member_is_unauthenticated(directory: dict) -> None:
    # Given the ridge admin disabled in storage
    staff_store.put_staff(directory["ridge"].model_copy(update={"active": False}))
    # Then their (still valid) token no longer signs them in
    with pytest.raises(Unauthenticated):
        staff_service.resolve_requestor("ridge")


def test_admins_without_mfa_pass_unless_it_is_required(directory: dict) -> None:
    # Given StaffMfa OPTIONAL (the default) and no user pool at all, Then an admin resolves without a Cognito call
    assert get_settings().staff_mfa == "OPTIONAL"
    assert staff_service.resolve_requestor("sys").role is Role.SYSTEM_ADMIN


PASSWORD = "Ridge-Pass-2026!"


@pytest.fixture
def mfa_required(directory: dict, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The staff pool in moto with StaffMfa=ADMINS_REQUIRED, and a login for each of three staff."""
    from local.resources import provision_user_pool

    created = provision_user_pool("us-east-1")
    monkeypatch.setenv("USER_POOL_ID", created.pool_id)
    monkeypatch.setenv("STAFF_MFA", "ADMINS_REQUIRED")
    reset_intake_caches()
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    for username in ("sys", "north", "ridge"):
        cognito.admin_create_user(UserPoolId=created.pool_id, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=created.pool_id, Username=username, Password=PASSWORD, Permanent=True
        )
    return {"pool_id": created.pool_id, "client_id": created.client_id}


def _enrol_totp(pool: dict[str, str], username: str) -> None:
    """What the staff page does when an administrator sets up an authenticator app."""
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    signed_in = cognito.initiate_auth(
        ClientId=pool["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    access = signed_in["AuthenticationResult"]["AccessToken"]
    cognito.associate_software_token(AccessToken=access)
    cognito.verify_software_token(AccessToken=access, UserCode="123456")
    cognito.set_user_mfa_preference(
        AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )


@pytest.mark.parametrize("username", ["sys", "north"])
def test_system_and_agency_admins_need_an_authenticator_when_required(
    mfa_required: dict[str, str], username: str
) -> None:
    # Given StaffMfa=ADMINS_REQUIRED and an admin login without an authenticator app
    # Then the request is refused with MFA_REQUIRED, naming the role
    with pytest.raises(MfaRequired, match="authenticator app"):
        staff_service.resolve_requestor(username)


def test_facility_admins_need_no_authenticator(mfa_required: dict[str, str]) -> None:
    assert staff_service.resolve_requestor("ridge").role is Role.FACILITY_ADMIN


def test_an_admin_with_an_authenticator_passes(mfa_required: dict[str, str]) -> None:
    # Given the AgencyAdmin's login with an authenticator app enrolled
    _enrol_totp(mfa_required, "north")
    # Then they are resolved, while the SystemAdmin without one is still refused
    assert staff_service.resolve_requestor("north").role is Role.AGENCY_ADMIN
    with pytest.raises(MfaRequired):
        staff_service.resolve_requestor("sys")
