"""Who calls, from the authorizer's claims (API Gateway's or the local stack's): a staff member or the tablet client."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from intake.domain import StaffMember
from intake.errors import PermissionDenied, Unauthenticated
from intake.settings import get_settings
from intake.staff_service import resolve_requestor

LEARNER_SIGN_IN_SCOPE = "intake/learner-sign-ins"
MACHINE_CLIENT_REFUSED = "A machine client's token is not accepted here: staff sign in with their own ID token"
NOT_THE_TABLET_CLIENT = (
    "Only the tablet platform signs learners in: send its access token (client credentials, scope "
    f"{LEARNER_SIGN_IN_SCOPE})"
)


def _claims(router: Router) -> dict[str, Any]:
    event = router.current_event
    assert isinstance(event, APIGatewayProxyEvent)
    return dict(event.request_context.authorizer.claims or {})


def current_requestor(router: Router) -> StaffMember:
    """The staff member behind the ID token of the current request; a machine client's access token is refused."""
    claims = _claims(router)
    if claims and claims.get("token_use") != "id":
        raise PermissionDenied(MACHINE_CLIENT_REFUSED)
    return resolve_requestor(claims.get("cognito:username"))


def scopes_of(claims: dict[str, Any]) -> set[str]:
    """The `scope` claim's scopes: space-separated in the token, as API Gateway passes it (or a list)."""
    scope = claims.get("scope") or ""
    parts = scope if isinstance(scope, list) else re.split(r"[\s,]+", str(scope))
    return {str(part) for part in parts if part}


def machine_client_id(router: Router) -> str:
    """The tablet client's id, when the request carries its access token with the sign-in scope; else 401/403."""
    claims = _claims(router)
    if not claims:
        raise Unauthenticated(NOT_THE_TABLET_CLIENT)
    client_id = str(claims.get("client_id") or "")
    tablet = get_settings().tablet_client_id
    if (
        claims.get("token_use") != "access"
        or LEARNER_SIGN_IN_SCOPE not in scopes_of(claims)
        or not tablet
        or client_id != tablet
    ):
        raise PermissionDenied(NOT_THE_TABLET_CLIENT)
    return client_id
