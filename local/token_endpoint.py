"""Cognito's OAuth 2.0 token endpoint for the local stack: the client-credentials grant of a machine client.

moto serves no `/oauth2/token`. This one answers as Cognito's does (`POST {domain}/oauth2/token`, form-encoded,
the client's id and secret in HTTP Basic or in the form): it reads the client through moto's
describe_user_pool_client (its secret, its allowed flows and scopes), and signs an access token RS256 with the user
pool's own key (kid "dummy"), with the claims moto's own access tokens carry, so the local API's verifier (the
pool's JWKS) takes it as API Gateway's Cognito authorizer takes Cognito's.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger("local.token_endpoint")

TOKEN_PATH = "/oauth2/token"
FORM = "application/x-www-form-urlencoded"
_TIME_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}

Answer = tuple[int, list[tuple[str, str]], bytes]


def _answer(status: int, body: dict[str, Any]) -> Answer:
    headers = [
        ("Content-Type", "application/json;charset=UTF-8"),
        ("Cache-Control", "no-store"),
        ("Pragma", "no-cache"),
    ]
    return status, headers, json.dumps(body).encode()


def oauth_error(error: str, status: int = 400) -> Answer:
    """One of Cognito's token endpoint errors: `{"error": ...}` (invalid_request, invalid_client, ...)."""
    return _answer(status, {"error": error})


@dataclass
class TokenEndpoint:
    """The token endpoint of one user pool in the moto server of this process."""

    cognito: Any  # a boto3 cognito-idp client of the local endpoint
    region: str
    user_pool_id: str
    account_id: str = "123456789012"

    def respond(self, method: str, headers: list[tuple[str, str]], body: bytes) -> Answer:
        """The answer to one request to /oauth2/token."""
        if method != "POST":
            return oauth_error("invalid_request", 405)
        content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        if content_type != FORM:
            return oauth_error("invalid_request")
        try:
            form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        except UnicodeDecodeError:
            return oauth_error("invalid_request")
        grant_type = form.get("grant_type")
        if not grant_type:
            return oauth_error("invalid_request")
        credentials = _client_credentials(_header(headers, "authorization"), form)
        if credentials is None:
            return oauth_error("invalid_client")
        client = self._client(credentials[0])
        secret = str((client or {}).get("ClientSecret") or "")
        if client is None or not secret or not hmac.compare_digest(secret.encode(), credentials[1].encode()):
            log.info("token refused: invalid_client")
            return oauth_error("invalid_client")
        if grant_type != "client_credentials":
            return oauth_error("unsupported_grant_type")
        if "client_credentials" not in client.get("AllowedOAuthFlows", []) or not client.get(
            "AllowedOAuthFlowsUserPoolClient"
        ):
            return oauth_error("unauthorized_client")
        allowed = list(client.get("AllowedOAuthScopes", []))
        asked = form.get("scope", "").split() or allowed
        if not asked or any(scope not in allowed for scope in asked):
            return oauth_error("invalid_scope")
        expires_in = _access_token_seconds(client)
        token = self.sign(client["ClientId"], " ".join(asked), expires_in)
        return _answer(200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})

    def _client(self, client_id: str) -> dict[str, Any] | None:
        try:
            found = self.cognito.describe_user_pool_client(UserPoolId=self.user_pool_id, ClientId=client_id)
        except self.cognito.exceptions.ResourceNotFoundException:
            return None
        return dict(found["UserPoolClient"])

    def sign(self, client_id: str, scope: str, expires_in: int, *, now: float | None = None) -> str:
        """An access token of the client-credentials grant, signed with the pool's key as moto signs its tokens."""
        from joserfc import jwt
        from moto.cognitoidp.models import cognitoidp_backends

        pool = cognitoidp_backends[self.account_id][self.region].user_pools[self.user_pool_id]
        issued = int(time.time() if now is None else now)
        claims = {
            "sub": client_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": issued,
            "iss": f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}",
            "exp": issued + expires_in,
            "iat": issued,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }
        return str(jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, pool.json_web_key))


def _access_token_seconds(client: dict[str, Any]) -> int:
    validity = int(client.get("AccessTokenValidity") or 60)
    unit = str(client.get("TokenValidityUnits", {}).get("AccessToken", "minutes"))
    return validity * _TIME_UNITS.get(unit, 60)


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str] | None:
    """(client id, secret) from HTTP Basic (as Cognito prefers) or from the form's client_id and client_secret."""
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, colon, secret = decoded.partition(":")
        return (client_id, secret) if colon and client_id else None
    if form.get("client_id") and "client_secret" in form:
        return form["client_id"], form["client_secret"]
    return None


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
