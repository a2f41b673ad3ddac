"""Bulk uploads: links, status, listing and confirm."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from api_routes.requestor import current_requestor
from intake import upload_service
from intake.api_models import ConfirmResponse, CreatedUploadResponse, UploadsResponse, UploadView
from intake.openapi import error_responses

router = Router()


class CreateUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facilityId: str = Field(min_length=1, max_length=100)
    fileName: str | None = Field(default=None, max_length=255)


class ConfirmUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skipInvalidRows: bool = False
    moveExisting: bool = False


@router.post(
    "/uploads",
    summary="A presigned link to upload one bulk file",
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": CreatedUploadResponse}}},
        **error_responses(403, 404),
    },
)
def create_upload(request: CreateUploadRequest) -> Response[dict[str, Any]]:
    body = upload_service.create_upload_link(current_requestor(router), request.facilityId, request.fileName)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@router.get(
    "/uploads/<uploadId>",
    summary="One upload: status, counts, first errors, report links",
    responses={200: {"description": "The upload", "content": {"application/json": {"model": UploadView}}}},
)
def get_upload(uploadId: str) -> dict[str, Any]:
    return upload_service.get_upload_view(current_requestor(router), uploadId)


@router.get(
    "/facilities/<facilityId>/uploads",
    summary="A facility's uploads, newest first, a page at a time",
    responses={
        200: {"description": "Uploads", "content": {"application/json": {"model": UploadsResponse}}},
        **error_responses(400, 404),
    },
)
def list_uploads(
    facilityId: str,
    limit: Annotated[
        int,
        Query(
            ge=upload_service.PAGE_LIMIT_MIN,
            le=upload_service.PAGE_LIMIT_MAX,
            description="How many uploads to return (1-200)",
        ),
    ] = upload_service.PAGE_LIMIT_DEFAULT,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=upload_service.CURSOR_MAX,
            description="The nextCursor of the previous page, as given (opaque)",
        ),
    ] = None,
) -> dict[str, Any]:
    return upload_service.list_upload_views(current_requestor(router), facilityId, limit, cursor)


@router.post(
    "/uploads/<uploadId>/confirm",
    summary="Create the upload's learners (idempotent)",
    responses={
        202: {"description": "Accepted", "content": {"application/json": {"model": ConfirmResponse}}},
        **error_responses(403, 409),
    },
)
def confirm_upload(uploadId: str, request: ConfirmUploadRequest | None = None) -> Response[dict[str, Any]]:
    options = request or ConfirmUploadRequest()
    body = upload_service.confirm_upload(
        current_requestor(router), uploadId, options.skipInvalidRows, options.moveExisting, router.lambda_context
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body)
