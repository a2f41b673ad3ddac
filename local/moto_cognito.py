"""moto's Cognito made to take the id SRP names a user with, as Cognito does.

In USER_SRP_AUTH, Cognito's PASSWORD_VERIFIER challenge gives USER_ID_FOR_SRP (the user's `sub`), and the browser
SDK (amazon-cognito-identity-js) answers the challenge with USERNAME set to that id. Cognito accepts it and issues
tokens for the user's username; moto looks users up by username only (UserNotFoundException) and would put the id in
`cognito:username`. Here a lookup that finds no such username tries the users' ids, and a challenge answer that names
the user by id is read as naming the username its sign-in started with. (moto still checks no SRP proof, so the
local page signs in with USER_PASSWORD_AUTH: WEB_AUTH_FLOW in local/resources.py.)
"""

from __future__ import annotations

from typing import Any

_MARK = "_intake_srp_ids"


def find_users_by_srp_id() -> None:
    """Patch moto's user pools once per process (idempotent)."""
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool

    original = CognitoIdpUserPool._get_user
    if getattr(original, _MARK, False):
        return

    def get_user(self: Any, username: str) -> Any:
        found = original(self, username)
        if found is None:
            found = next((user for user in self.users.values() if user.id == username), None)
        return found

    respond = CognitoIdpBackend.respond_to_auth_challenge

    def respond_to_auth_challenge(
        self: Any, session: str, client_id: str, challenge_name: str, challenge_responses: dict[str, str]
    ) -> Any:
        verifier = challenge_name == "PASSWORD_VERIFIER"
        key = challenge_responses.get("PASSWORD_CLAIM_SECRET_BLOCK") if verifier else session
        started = self.sessions.get(key)
        if started is not None and "USERNAME" in challenge_responses:
            username, pool = started
            user = pool.users.get(username)
            if user is not None and challenge_responses["USERNAME"] == user.id:
                challenge_responses = {**challenge_responses, "USERNAME": username}
        return respond(self, session, client_id, challenge_name, challenge_responses)

    setattr(get_user, _MARK, True)
    CognitoIdpUserPool._get_user = get_user  # type: ignore[method-assign]
    CognitoIdpBackend.respond_to_auth_challenge = respond_to_auth_challenge  # type: ignore[method-assign]


_CHALLENGE_MARK = "_intake_new_password_attributes"


def describe_new_password_challenge() -> None:
    """moto's NEW_PASSWORD_REQUIRED challenge made to carry `userAttributes` and `requiredAttributes`, as Cognito's.

    A staff member invited with a temporary password meets this challenge at the first sign-in; the browser SDK
    JSON-parses both parameters before it calls the page's newPasswordRequired, and moto leaves them out (the page
    would show `"undefined" is not valid JSON`). Given here as no attributes and none required: the page sends none
    back (completeNewPasswordChallenge(password, {})). Idempotent; patched once per process."""
    from moto.cognitoidp.models import CognitoIdpBackend

    if getattr(CognitoIdpBackend.initiate_auth, _CHALLENGE_MARK, False):
        return

    def described(result: Any) -> Any:
        if isinstance(result, dict) and result.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
            parameters = result.setdefault("ChallengeParameters", {})
            parameters.setdefault("userAttributes", "{}")
            parameters.setdefault("requiredAttributes", "[]")
        return result

    initiate, respond = CognitoIdpBackend.initiate_auth, CognitoIdpBackend.respond_to_auth_challenge

    def initiate_auth(self: Any, *args: Any, **kwargs: Any) -> Any:
        return described(initiate(self, *args, **kwargs))

    def respond_to_auth_challenge(self: Any, *args: Any, **kwargs: Any) -> Any:
        return described(respond(self, *args, **kwargs))

    setattr(initiate_auth, _CHALLENGE_MARK, True)
    CognitoIdpBackend.initiate_auth = initiate_auth  # type: ignore[method-assign]
    CognitoIdpBackend.respond_to_auth_challenge = respond_to_auth_challenge  # type: ignore[method-assign]
