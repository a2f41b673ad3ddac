"""Staff logins in the Cognito user pool (AdminCreateUser with a temporary password, disable)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from intake.dal.aws import client
from intake.errors import Conflict, StorageUnavailable
from intake.settings import get_settings


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def create_login(username: str, temporary_password: str, email: str | None = None) -> None:
    """A new login that must set its own password at first sign-in; Conflict if the username is taken."""
    attributes = [{"Name": "email", "Value": email}] if email else []
    try:
        client("cognito-idp").admin_create_user(
            UserPoolId=get_settings().user_pool_id,
            Username=username,
            TemporaryPassword=temporary_password,
            UserAttributes=attributes,
            MessageAction="SUPPRESS",
        )
    except ClientError as exc:
        if _code(exc) == "UsernameExistsException":
            raise Conflict(f"A login named {username} already exists: choose another username") from exc
        raise StorageUnavailable("Could not create the login right now; try again in a moment") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable("Could not create the login right now; try again in a moment") from exc


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
