"""The requestor of the current API event, from the authorizer's claims (API Gateway's or the local stack's)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from intake.domain import StaffMember
from intake.staff_service import resolve_requestor


def current_requestor(router: Router) -> StaffMember:
    """The staff member behind the ID token of the current request."""
    event = router.current_event
    assert isinstance(event, APIGatewayProxyEvent)
    claims = event.request_context.authorizer.claims or {}
    return resolve_requestor(claims.get("cognito:username"))
