"""Staff logins in the Cognito user pool (AdminCreateUser with a temporary password, disable)."""

from __future__ import annotations

import time

from botocore.exceptions import BotoCoreError, ClientError

from intake.dal.aws import client
from intake.errors import Conflict, FieldError, StorageUnavailable, ValidationFailed
from intake.settings import get_settings


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def create_login(
    username: str, temporary_password: str, email: str | None = None, *, send_invitation: bool = False
) -> None:
    """A new login that must set its own password at first sign-in; Conflict if the username is taken. With
    `send_invitation` (and an email) Cognito emails the temporary password; otherwise no message is sent."""
    attributes = [{"Name": "email", "Value": email}] if email else []
    quiet = {} if send_invitation and email else {"MessageAction": "SUPPRESS"}
    try:
        client("cognito-idp").admin_create_user(
            UserPoolId=get_settings().user_pool_id,
            Username=username,
            TemporaryPassword=temporary_password,
            UserAttributes=attributes,
            **quiet,
        )
    except ClientError as exc:
        if _code(exc) == "UsernameExistsException":
            raise Conflict(f"A login named {username} already exists: choose another username") from exc
        if _code(exc) in ("InvalidPasswordException", "InvalidParameterException"):
            raise ValidationFailed(
                [FieldError("password", "INVALID_VALUE", "The user pool refused this password or an attribute")]
            ) from exc
        raise StorageUnavailable("Could not create the login right now; try again in a moment") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable("Could not create the login right now; try again in a moment") from exc


# A login's enrolled authenticator, remembered for a few minutes per process (one AdminGetUser per admin, not per call).
_TOTP_CACHE_SECONDS = 300.0
_has_totp_until: dict[str, float] = {}


def has_totp(username: str) -> bool:
    """Whether a login has an authenticator app (software token MFA) enabled: Cognito then asks for its code at
    every sign-in, so each of its tokens was MFA-authenticated. False for a login that does not exist."""
    now = time.monotonic()
    if _has_totp_until.get(username, 0.0) > now:
        return True
    try:
        user = client("cognito-idp").admin_get_user(UserPoolId=get_settings().user_pool_id, Username=username)
    except ClientError as exc:
        if _code(exc) == "UserNotFoundException":
            return False
        raise StorageUnavailable("Could not check the sign-in right now; try again in a moment") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable("Could not check the sign-in right now; try again in a moment") from exc
    enrolled = "SOFTWARE_TOKEN_MFA" in user.get("UserMFASettingList", [])
    if enrolled:
        _has_totp_until[username] = now + _TOTP_CACHE_SECONDS
    return enrolled


def forget_totp_checks() -> None:
    """Forget remembered authenticator checks (tests that restart moto)."""
    _has_totp_until.clear()


def set_login_enabled(username: str, enabled: bool) -> None:
    """Enable or disable a login (a disabled login cannot sign in; its tokens stop being issued)."""
    pool = get_settings().user_pool_id
    try:
        if enabled:
            client("cognito-idp").admin_enable_user(UserPoolId=pool, Username=username)
        else:
            client("cognito-idp").admin_disable_user(UserPoolId=pool, Username=username)
    except ClientError as exc:
        if _code(exc) == "UserNotFoundException":
            return  # the staff record alone decides access; a login already gone needs no disabling
        raise StorageUnavailable("Could not change the login right now; try again in a moment") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable("Could not change the login right now; try again in a moment") from exc
