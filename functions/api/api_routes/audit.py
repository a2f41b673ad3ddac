"""The audit trail of one facility."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from api_routes.models import AuditResponse
from api_routes.openapi import error_responses
from api_routes.requestor import current_requestor
from intake import audit

router = Router()


@router.get(
    "/facilities/<facilityId>/audit",
    summary="A facility's audit trail, newest first (its admins)",
    responses={200: {"description": "Entries, newest first"}, **error_responses(403)},
)
def facility_audit(
    facilityId: str,
    limit: Annotated[int, Query(ge=1, le=audit.PAGE_MAX)] = 50,
    before: Annotated[str | None, Query(max_length=200, description="`next` of the previous page")] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[A-Z][A-Z0-9_]*$",
            description="Only the entries of this action (e.g. STAFF_GRANT_ADDED); pass it again with `before`. "
            "A page of one action may be short (even empty) and still have a `next`: one request looks at a bounded "
            "number of entries",
        ),
    ] = None,
) -> AuditResponse:
    entries, following = audit.facility_audit(current_requestor(router), facilityId, limit, before, action)
    return AuditResponse(entries=entries, next=following)
