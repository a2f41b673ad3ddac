"""Staff: invite, change role or scope, add or remove a grant, disable, enable, list; never beyond the requestor's
own grants."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from api_routes.models import (
    ChangeStaffRequest,
    GrantChangeRequest,
    InvitedStaffResponse,
    InviteStaffRequest,
    StaffListResponse,
    StaffResponse,
)
from api_routes.openapi import error_responses
from api_routes.requestor import current_requestor
from intake import admin_service

router = Router()


@router.get(
    "/staff",
    summary="Staff within the requestor's grant",
    responses={200: {"description": "Staff"}, **error_responses(403)},
)
def list_staff() -> StaffListResponse:
    return StaffListResponse(staff=admin_service.list_staff(current_requestor(router)))


@router.post(
    "/staff",
    summary="Invite a staff member: a login with a temporary password (returned once) and a role and scope",
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": InvitedStaffResponse}}},
        **error_responses(403, 409),
    },
)
def invite_staff(request: InviteStaffRequest) -> Response[InvitedStaffResponse]:
    invited = admin_service.invite_staff(current_requestor(router), request)
    body = InvitedStaffResponse(staff=invited.staff, temporaryPassword=invited.temporary_password)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@router.post(
    "/staff/<username>/scope",
    summary="Change a staff member's role and scope",
    responses={200: {"description": "Changed"}, **error_responses(403)},
)
def change_staff(username: str, request: ChangeStaffRequest) -> StaffResponse:
    return StaffResponse(staff=admin_service.change_staff(current_requestor(router), username, request))


@router.post(
    "/staff/<username>/grants",
    summary="Add a grant (a role at a facility, or AgencyAdmin) in the staff member's agency",
    responses={200: {"description": "Added"}, **error_responses(403, 404, 409)},
)
def add_grant(username: str, request: GrantChangeRequest) -> StaffResponse:
    return StaffResponse(staff=admin_service.add_grant(current_requestor(router), username, request))


@router.post(
    "/staff/<username>/grants/remove",
    summary="Remove one of a staff member's grants (never the last: disable them instead)",
    responses={200: {"description": "Removed"}, **error_responses(403, 404, 409)},
)
def remove_grant(username: str, request: GrantChangeRequest) -> StaffResponse:
    return StaffResponse(staff=admin_service.remove_grant(current_requestor(router), username, request))


@router.post(
    "/staff/<username>/disable",
    summary="Disable a staff member (record and login)",
    responses={200: {"description": "Disabled"}, **error_responses(403)},
)
def disable_staff(username: str) -> StaffResponse:
    return StaffResponse(staff=admin_service.set_staff_active(current_requestor(router), username, False))


@router.post(
    "/staff/<username>/enable",
    summary="Enable a disabled staff member again",
    responses={200: {"description": "Enabled"}, **error_responses(403)},
)
def enable_staff(username: str) -> StaffResponse:
    return StaffResponse(staff=admin_service.set_staff_active(current_requestor(router), username, True))
