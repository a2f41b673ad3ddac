"""intake.dal.users: staff logins in the Cognito user pool; Cognito's answers turned into domain errors."""

from __future__ import annotations

import pytest

from intake.dal import users
from intake.dal.aws import client
from intake.errors import Conflict, StorageUnavailable
from intake.settings import get_settings
from tests.integration.fault_injection import Faults, Rule, _Sleeps

PASSWORD = "Temp-Passw0rd-123!"
SERVICE = "cognito-identity-provider"  # the name in botocore's event names (the client is "cognito-idp")


def _cognito():
    return client("cognito-idp")


def _user(username: str) -> dict | None:
    try:
        return _cognito().admin_get_user(UserPoolId=get_settings().user_pool_id, Username=username)
    except _cognito().exceptions.UserNotFoundException:
        return None


@pytest.fixture
def cognito_faults(pool, monkeypatch) -> Faults:
    """Faults on the DAL's Cognito client, botocore's retry sleeps recorded instead of slept."""
    import botocore.endpoint

    faults = Faults()
    monkeypatch.setattr(botocore.endpoint, "time", _Sleeps(faults.delays))
    faults.attach(_cognito())
    return faults


def _refuse(faults: Faults, operation: str, code: str, status: int = 400) -> Rule:
    return faults.add(Rule(SERVICE, operation, code=code, status=status, times=100))


def test_a_new_login_must_set_its_password_and_has_its_email(pool):
    # Given the staff user pool
    # When a login is created with an email
    users.create_login("ridge", PASSWORD, "ridge@example.org")
    # Then it exists, must change its temporary password, and carries the email
    user = _user("ridge")
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert {"Name": "email", "Value": "ridge@example.org"} in user["UserAttributes"]
    assert user["Enabled"] is True


def test_a_login_without_email_has_no_email_attribute(pool):
    # Given the staff user pool
    # When a login is created without an email
    users.create_login("lake", PASSWORD)
    # Then it has no email
    assert "email" not in {attribute["Name"] for attribute in _user("lake")["UserAttributes"]}


def test_a_taken_username_is_a_conflict_and_keeps_the_login(pool):
    # Given a login ridge with an email
    users.create_login("ridge", PASSWORD, "ridge@example.org")
    # When ridge is created again with another email
    with pytest.raises(Conflict, match="A login named ridge already exists"):
        users.create_login("ridge", PASSWORD, "someone@example.org")
    # Then the first login keeps its email
    assert {"Name": "email", "Value": "ridge@example.org"} in _user("ridge")["UserAttributes"]


@pytest.mark.parametrize(("code", "status"), [("TooManyRequestsException", 400), ("InternalErrorException", 500)])
def test_a_failed_creation_is_storage_unavailable_and_creates_no_login(pool, cognito_faults, code, status):
    # Given Cognito refusing to create logins
    _refuse(cognito_faults, "AdminCreateUser", code, status)
    # When a login is created
    with pytest.raises(StorageUnavailable, match="Could not create the login"):
        users.create_login("ridge", PASSWORD)
    # Then there is none
    with cognito_faults.disarmed():
        assert _user("ridge") is None


def test_disabling_and_enabling_a_login(pool):
    # Given a login
    users.create_login("ridge", PASSWORD)
    # When it is disabled, then enabled again
    users.set_login_enabled("ridge", False)
    disabled = _user("ridge")["Enabled"]
    users.set_login_enabled("ridge", True)
    # Then Cognito saw each change
    assert disabled is False
    assert _user("ridge")["Enabled"] is True


def test_disabling_a_login_that_is_gone_is_fine(pool):
    # Given no login ghost
    # When it is disabled and enabled
    users.set_login_enabled("ghost", False)
    users.set_login_enabled("ghost", True)
    # Then nothing was raised and no login was made
    assert _user("ghost") is None


def test_a_failed_disable_is_storage_unavailable_and_the_login_stays_enabled(pool, cognito_faults):
    # Given a login, and Cognito denying changes
    with cognito_faults.disarmed():
        users.create_login("ridge", PASSWORD)
    _refuse(cognito_faults, "AdminDisableUser", "NotAuthorizedException")
    # When it is disabled
    with pytest.raises(StorageUnavailable, match="Could not change the login"):
        users.set_login_enabled("ridge", False)
    # Then it is still enabled
    with cognito_faults.disarmed():
        assert _user("ridge")["Enabled"] is True


def test_has_totp_is_false_for_a_missing_login_and_one_without_an_authenticator(pool):
    # Given a login without an authenticator, and no login ghost
    users.create_login("ridge", PASSWORD)
    # When each is checked
    # Then neither has one
    assert users.has_totp("ridge") is False
    assert users.has_totp("ghost") is False


def test_an_enrolled_authenticator_is_remembered_for_a_while(pool, cognito_faults, monkeypatch):
    # Given Cognito saying ridge has software-token MFA (answered here: moto needs a signed-in session to enrol)
    answers = {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"], "Username": "ridge"}
    asked: list[str] = []

    def admin_get_user(UserPoolId: str, Username: str) -> dict:
        asked.append(Username)
        return answers

    users.forget_totp_checks()
    monkeypatch.setattr(_cognito(), "admin_get_user", admin_get_user)
    clock = [1000.0]
    monkeypatch.setattr(users.time, "monotonic", lambda: clock[0])
    # When it is checked, again within five minutes, and again after them
    first = users.has_totp("ridge")
    clock[0] += users._TOTP_CACHE_SECONDS - 1
    second = users.has_totp("ridge")
    clock[0] += 2
    third = users.has_totp("ridge")
    # Then each says yes, Cognito having been asked only for the first and the third
    assert (first, second, third) == (True, True, True)
    assert asked == ["ridge", "ridge"]
    users.forget_totp_checks()


def test_a_login_without_an_authenticator_is_asked_again_each_time(pool, cognito_faults):
    # Given a login without an authenticator
    with cognito_faults.disarmed():
        users.create_login("ridge", PASSWORD)
    # When it is checked twice
    users.has_totp("ridge")
    users.has_totp("ridge")
    # Then Cognito was asked both times (an enrolment is seen at once)
    assert cognito_faults.calls[(SERVICE, "AdminGetUser")] == 2


def test_forget_totp_checks_forgets_remembered_answers(pool, monkeypatch):
    # Given ridge remembered as enrolled
    monkeypatch.setattr(_cognito(), "admin_get_user", lambda **_: {"UserMFASettingList": ["SOFTWARE_TOKEN_MFA"]})
    assert users.has_totp("ridge") is True
    monkeypatch.setattr(_cognito(), "admin_get_user", lambda **_: {"UserMFASettingList": []})
    # When the remembered checks are forgotten
    users.forget_totp_checks()
    # Then Cognito's current answer counts
    assert users.has_totp("ridge") is False


def test_a_failed_totp_check_is_storage_unavailable(pool, cognito_faults):
    # Given Cognito throttling reads of logins
    _refuse(cognito_faults, "AdminGetUser", "TooManyRequestsException")
    # When a login is checked
    # Then the failure is the domain's, not a "no authenticator"
    with pytest.raises(StorageUnavailable, match="Could not check the sign-in"):
        users.has_totp("ridge")


@pytest.mark.parametrize("code", ["InvalidPasswordException", "InvalidParameterException"])
def test_a_password_or_attribute_the_pool_refuses_is_a_validation_failure(pool, cognito_faults, code):
    from intake.errors import ValidationFailed

    # Given Cognito refusing the temporary password (its policy) or an attribute (an email it cannot read)
    _refuse(cognito_faults, "AdminCreateUser", code)
    # When a login is created (SCIM sends the directory's password)
    with pytest.raises(ValidationFailed) as refused:
        users.create_login("ridge", "short", "not-an-email")
    # Then the caller is told which field to fix, and there is no login
    assert [e.field for e in refused.value.errors] == ["password"]
    with cognito_faults.disarmed():
        assert _user("ridge") is None


def test_an_invitation_is_sent_only_with_an_email_and_when_asked(pool):
    # Given every AdminCreateUser request recorded as sent
    sent: list[dict] = []
    _cognito().meta.events.register(
        f"provide-client-params.{SERVICE}.AdminCreateUser", lambda params, **_: sent.append(dict(params))
    )
    # When logins are made with an invitation asked for (with and without an email) and without
    users.create_login("invited", PASSWORD, "invited@example.org", send_invitation=True)
    users.create_login("no-email", PASSWORD, None, send_invitation=True)
    users.create_login("quiet", PASSWORD, "quiet@example.org")
    # Then only the first lets Cognito mail its temporary password; the others suppress every message
    assert [p.get("MessageAction") for p in sent] == [None, "SUPPRESS", "SUPPRESS"]
    assert all(_user(name)["UserStatus"] == "FORCE_CHANGE_PASSWORD" for name in ("invited", "no-email", "quiet"))
