"""POST /learner-sign-ins: the tablet platform (a machine client) signs a learner in; all logic is in the service."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from api_routes.openapi import json_response
from api_routes.requestor import machine_client_id
from api_routes.sign_in_models import SignedInLearner, SignInRequest, SignInResponse
from intake import sign_in_service

router = Router()


@router.post(
    "/learner-sign-ins",
    summary="Sign a learner in (the tablet platform's access token with the scope intake/learner-sign-ins)",
    description=(
        "For the tablet platform only: an access token of the user pool's client-credentials flow for the tablet "
        "client, with the scope `intake/learner-sign-ins` (staff ID tokens are refused). The username may also be "
        "the learner's DOC ID; a username match wins."
    ),
    responses={
        200: json_response(SignInResponse, "Signed in: the learner's profile"),
        401: {
            "description": (
                "INVALID_CREDENTIALS: an unknown username or a wrong password (the same body for both); "
                "UNAUTHENTICATED: no valid token"
            )
        },
        403: {
            "description": (
                "ACCOUNT_DISABLED: the right password of an inactive learner, or of a facility whose learnerAccess "
                "is OFF; PERMISSION_DENIED: not the tablet client's access token with the scope"
            )
        },
        429: {
            "description": (
                "LOCKED_OUT with `retryAfter` (seconds, also the Retry-After header): 5 or more failed sign-ins in "
                "a row for this username; TOO_MANY_REQUESTS: the client passed the API's rate limit"
            ),
            "headers": {
                "Retry-After": {
                    "description": "LOCKED_OUT: seconds to wait before the next attempt",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        },
    },
)
def sign_in_learner(request: SignInRequest) -> SignInResponse:
    client_id = machine_client_id(router)
    learner = sign_in_service.sign_in(request.agencyId, request.username, request.password, client_id)
    return SignInResponse(learner=SignedInLearner.of(learner))
