"""Agencies: create, rename and list (SystemAdmin), and the locations of one agency."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from api_routes.models import AdminFacilitiesResponse, AgenciesResponse, AgencyResponse, RenameRequest
from api_routes.openapi import error_responses
from api_routes.requestor import current_requestor
from intake import admin_service
from intake.admin_models import CreateAgencyRequest

router = Router()


@router.get("/agencies", summary="Agencies: all for a SystemAdmin, one's own for anyone else")
def list_agencies() -> AgenciesResponse:
    return AgenciesResponse(agencies=admin_service.list_agencies(current_requestor(router)))


@router.post(
    "/agencies",
    summary="Create an agency (SystemAdmin); agencyId chosen or generated",
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": AgencyResponse}}},
        **error_responses(403, 409),
    },
)
def create_agency(request: CreateAgencyRequest) -> Response[AgencyResponse]:
    body = AgencyResponse(agency=admin_service.create_agency(current_requestor(router), request))
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@router.post(
    "/agencies/<agencyId>/rename",
    summary="Rename an agency (SystemAdmin)",
    responses={200: {"description": "Renamed"}, **error_responses(403)},
)
def rename_agency(agencyId: str, request: RenameRequest) -> AgencyResponse:
    return AgencyResponse(agency=admin_service.rename_agency(current_requestor(router), agencyId, request.name))


@router.get(
    "/agencies/<agencyId>/locations",
    summary="An agency's facilities and housing units in the requestor's scope, deactivated ones included",
)
def list_agency_locations(agencyId: str) -> AdminFacilitiesResponse:
    return AdminFacilitiesResponse(facilities=admin_service.list_agency_locations(current_requestor(router), agencyId))
