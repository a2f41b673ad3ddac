"""SCIM deactivations the mass-deactivation guard held: listed, released or discarded by the agency's AgencyAdmins
(or a SystemAdmin), with their own ID token. See intake.scim_service."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import ConfigDict, Field

from api_routes.openapi import error_responses
from api_routes.requestor import current_requestor
from intake import scim_holds
from intake.domain import BodyModel

router = Router()


class ScimHoldOut(BodyModel):
    username: str
    heldAt: str = Field(description="When the guard held it (ISO 8601, UTC)")
    clientId: str = Field(description="The SCIM client that asked for it")
    delete: bool = Field(description="true: a DELETE (the staff member also leaves SCIM); false: active=false")


class ScimHoldsResponse(BodyModel):
    holds: list[ScimHoldOut]


class SettleScimHoldsRequest(BodyModel):
    model_config = ConfigDict(extra="forbid")

    usernames: list[str] | None = Field(
        default=None,
        max_length=500,
        description="The held staff members to settle; none: every hold of the agency",
    )

    def names(self) -> list[str] | None:
        return None if self.usernames is None else [str(u) for u in self.usernames]


class SettledScimHoldsResponse(BodyModel):
    settled: list[str] = Field(description="The usernames released (now disabled) or discarded (still active)")


@router.get(
    "/agencies/<agencyId>/scim-holds",
    summary="SCIM deactivations held by the mass-deactivation guard (the agency's AgencyAdmins)",
    responses={200: {"description": "Held deactivations, oldest first"}, **error_responses(403)},
)
def list_scim_holds(agencyId: str) -> ScimHoldsResponse:
    holds = scim_holds.list_holds(current_requestor(router), agencyId)
    return ScimHoldsResponse(
        holds=[ScimHoldOut(username=h.username, heldAt=h.held_at, clientId=h.client_id, delete=h.delete) for h in holds]
    )


@router.post(
    "/agencies/<agencyId>/scim-holds/release",
    summary="Apply held SCIM deactivations: the staff members are disabled (record and login), as the client asked",
    responses={200: {"description": "Released"}, **error_responses(403, 409)},
)
def release_scim_holds(agencyId: str, request: SettleScimHoldsRequest) -> SettledScimHoldsResponse:
    settled = scim_holds.settle_holds(current_requestor(router), agencyId, request.names(), release=True)
    return SettledScimHoldsResponse(settled=settled)


@router.post(
    "/agencies/<agencyId>/scim-holds/discard",
    summary="Drop held SCIM deactivations: the staff members stay active (a client that asks again is held again)",
    responses={200: {"description": "Discarded"}, **error_responses(403, 409)},
)
def discard_scim_holds(agencyId: str, request: SettleScimHoldsRequest) -> SettledScimHoldsResponse:
    settled = scim_holds.settle_holds(current_requestor(router), agencyId, request.names(), release=False)
    return SettledScimHoldsResponse(settled=settled)
