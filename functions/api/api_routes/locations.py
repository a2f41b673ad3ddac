"""Facilities and housing units: create, rename, deactivate, delete when empty; facility settings."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from api_routes.models import DeletedResponse, FacilitySettingsResponse, LocationResponse, RenameRequest
from api_routes.openapi import error_responses
from api_routes.requestor import current_requestor
from intake import admin_service
from intake.admin_models import CreateFacilityRequest, CreateHousingUnitRequest, FacilitySettingsRequest
from intake.domain import Location

router = Router()


def _created(location: Location) -> Response[LocationResponse]:
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=_location(location))


def _location(location: Location) -> LocationResponse:
    return LocationResponse(location=admin_service.location_out(location))


@router.post(
    "/facilities",
    summary="Create a facility (AgencyAdmin of the agency or SystemAdmin); facilityId chosen or generated",
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": LocationResponse}}},
        **error_responses(403, 404, 409),
    },
)
def create_facility(request: CreateFacilityRequest) -> Response[LocationResponse]:
    return _created(admin_service.create_facility(current_requestor(router), request))


@router.post(
    "/facilities/<facilityId>/housing-units",
    summary="Create a housing unit of a facility; locationId chosen or generated",
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": LocationResponse}}},
        **error_responses(403, 409),
    },
)
def create_housing_unit(facilityId: str, request: CreateHousingUnitRequest) -> Response[LocationResponse]:
    return _created(admin_service.create_housing_unit(current_requestor(router), facilityId, request))


@router.post(
    "/locations/<locationId>/rename",
    summary="Rename a facility or housing unit",
    responses={200: {"description": "Renamed"}, **error_responses(403)},
)
def rename_location(locationId: str, request: RenameRequest) -> LocationResponse:
    return _location(admin_service.rename_location(current_requestor(router), locationId, request.name))


@router.post(
    "/locations/<locationId>/deactivate",
    summary="Deactivate a location: it takes no new learners (a facility's housing units close with it)",
    responses={200: {"description": "Deactivated"}, **error_responses(403)},
)
def deactivate_location(locationId: str) -> LocationResponse:
    return _location(admin_service.set_location_active(current_requestor(router), locationId, False))


@router.post(
    "/locations/<locationId>/reactivate",
    summary="Reactivate a location",
    responses={200: {"description": "Reactivated"}, **error_responses(403)},
)
def reactivate_location(locationId: str) -> LocationResponse:
    return _location(admin_service.set_location_active(current_requestor(router), locationId, True))


@router.post(
    "/locations/<locationId>/delete",
    summary="Delete a location without learners (409 CONFLICT otherwise: deactivate it instead)",
    responses={200: {"description": "Deleted"}, **error_responses(403, 409)},
)
def delete_location(locationId: str) -> DeletedResponse:
    admin_service.delete_location(current_requestor(router), locationId)
    return DeletedResponse(deleted=locationId)


@router.get("/facilities/<facilityId>/settings", summary="A facility's settings")
def get_settings(facilityId: str) -> FacilitySettingsResponse:
    return FacilitySettingsResponse(settings=admin_service.get_facility_settings(current_requestor(router), facilityId))


@router.post(
    "/facilities/<facilityId>/settings",
    summary="Change a facility's settings (fields sent only; null resets to the system's default)",
    responses={200: {"description": "The facility's settings"}, **error_responses(403)},
)
def update_settings(facilityId: str, request: FacilitySettingsRequest) -> FacilitySettingsResponse:
    settings = admin_service.update_facility_settings(current_requestor(router), facilityId, request)
    return FacilitySettingsResponse(settings=settings)
