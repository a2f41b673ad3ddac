"""API Gateway events of POST /learner-sign-ins (tests/events/api_learner_sign_in.json) with the claims wanted."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.conftest import load_event

SCOPE = "intake/learner-sign-ins"


def tablet_claims(client_id: str, /, **changes: str | None) -> dict[str, str]:
    """The claims API Gateway passes for the tablet client's access token, with some changed (None: left out)."""
    claims = copy.deepcopy(load_event("api_learner_sign_in.json")["requestContext"]["authorizer"]["claims"])
    claims.update(sub=client_id, client_id=client_id)
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def staff_id_claims(username: str) -> dict[str, str]:
    """The claims of a staff member's ID token (what the staff routes take)."""
    return {"cognito:username": username, "token_use": "id", "aud": "staff-client", "sub": f"sub-{username}"}


def api_event(
    method: str, path: str, claims: dict[str, str] | None, body: Any = None, query: dict[str, str] | None = None
) -> dict[str, Any]:
    """A REST proxy event of any route, with these claims (None: no authorizer claims at all)."""
    event = copy.deepcopy(load_event("api_learner_sign_in.json"))
    event.update(httpMethod=method, path=path, resource=path, queryStringParameters=query)
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["requestContext"].update(httpMethod=method, resourcePath=path)
    event["requestContext"]["authorizer"] = {"claims": claims} if claims is not None else {}
    event["body"] = json.dumps(body) if body is not None else None
    return event


def call(event: dict[str, Any], context: Any) -> tuple[int, Any, dict[str, str]]:
    """The handler's answer: status, parsed JSON body, headers (single and multi-value merged)."""
    import api_handler

    response = api_handler.lambda_handler(event, context)
    headers = dict(response.get("headers") or {})
    headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items() if v})
    body = response["body"]
    return response["statusCode"], json.loads(body) if body else None, headers


def sign_in(
    client_id: str, body: dict[str, Any], context: Any, /, **changes: str | None
) -> tuple[int, Any, dict[str, str]]:
    """POST /learner-sign-ins with the tablet client's claims (some changed)."""
    return call(api_event("POST", "/learner-sign-ins", tablet_claims(client_id, **changes), body), context)
