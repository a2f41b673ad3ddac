"""Facilities in scope and their bulk template."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from api_routes.models import FacilitiesResponse, FacilityOut, HousingUnitOut
from api_routes.requestor import current_requestor
from intake import facility_service

router = Router()


@router.get("/facilities", summary="Facilities (and housing units) in the requestor's scope")
def list_facilities() -> FacilitiesResponse:
    requestor = current_requestor(router)
    facilities = facility_service.list_facilities(requestor)
    return FacilitiesResponse(
        facilities=[
            FacilityOut(
                facility_id=facility.location_id,
                name=facility.name,
                agency_id=facility.agency_id,
                housing_units=[HousingUnitOut(location_id=unit.location_id, name=unit.name) for unit in units],
                role=facility_service.role_at(requestor, facility),
            )
            for facility, units in facilities
        ]
    )


@router.get(
    "/facilities/<facilityId>/template",
    summary="The bulk CSV template of a facility",
    responses={200: {"description": "text/csv attachment", "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def get_template(facilityId: str) -> Response[str]:
    body = facility_service.template_csv(current_requestor(router), facilityId)
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=body,
        headers={"Content-Disposition": f'attachment; filename="intake-template-{facilityId}.csv"'},
    )
