"""Bulk uploads: links, status, listing and confirm."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from api_routes.models import (
    ConfirmResponse,
    CreatedUploadResponse,
    RowErrorOut,
    UndoDeactivationsResponse,
    UploadCountsOut,
    UploadHoldOut,
    UploadLinkOut,
    UploadOptionsOut,
    UploadsResponse,
    UploadView,
)
from api_routes.openapi import error_responses
from api_routes.requestor import current_requestor
from intake import sync_undo, upload_service
from intake.domain import COUNT_NAMES, UploadMode
from intake.upload_service import UploadWithLinks

router = Router()


def upload_view(seen: UploadWithLinks) -> UploadView:
    """The contract's view of an upload; a report link the requestor does not get is left out, not null."""
    upload, links = seen.upload, seen.links
    reports = {
        "errorReportUrl": links.error_report_url,
        "planReportUrl": links.plan_report_url,
        "resultReportUrl": links.result_report_url,
        "resultReportHasPasswords": links.result_report_has_passwords,
        "passwordsUntil": links.passwords_until,
    }
    return UploadView(
        uploadId=upload.upload_id,
        facilityId=upload.facility_id,
        source=upload.source,
        fileName=upload.file_name,
        status=upload.status,
        createdAt=upload.created_at,
        createdBy=upload.created_by,
        expiresAt=upload.expires_at,
        encoding=upload.encoding,
        reason=upload.reason,
        counts=UploadCountsOut(**{name: upload.counts.get(name, 0) for name in COUNT_NAMES}),
        errors=[RowErrorOut.model_validate(error) for error in upload.errors],
        warnings=[RowErrorOut.model_validate(warning) for warning in upload.warnings],
        options=UploadOptionsOut(
            skipInvalidRows=upload.skip_invalid_rows,
            moveExisting=upload.move_existing,
            **(
                {}
                if upload.allow_mass_deactivation is None
                else {"allowMassDeactivation": upload.allow_mass_deactivation}
            ),
        ),
        mode=upload.mode,
        **({} if upload.hold is None else {"hold": UploadHoldOut.model_validate(upload.hold)}),
        **{name: value for name, value in reports.items() if value is not None},
    )


class CreateUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facilityId: str = Field(min_length=1, max_length=100)
    fileName: str | None = Field(default=None, max_length=255)
    mode: UploadMode = Field(
        default=UploadMode.CREATE, description="create (default): new learners; sync: the file is the whole roster"
    )


class ConfirmUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skipInvalidRows: bool = False
    moveExisting: bool = False
    allowMassDeactivation: bool = Field(
        default=False, description="Required (true) to confirm a sync held for MASS_DEACTIVATION"
    )


@router.post(
    "/uploads",
    summary="A presigned link to upload one bulk file",
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": CreatedUploadResponse}}},
        **error_responses(403, 404),
    },
)
def create_upload(request: CreateUploadRequest) -> Response[CreatedUploadResponse]:
    link = upload_service.create_upload_link(
        current_requestor(router), request.facilityId, request.fileName, request.mode
    )
    body = CreatedUploadResponse(
        uploadId=link.upload.upload_id,
        status=link.upload.status,
        upload=UploadLinkOut(
            method="POST", url=link.url, fields=link.fields, expiresAt=link.expires_at, maxBytes=link.max_bytes
        ),
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@router.get(
    "/uploads/<uploadId>",
    summary="One upload: status, counts, first errors, report links",
    responses={200: {"description": "The upload", "content": {"application/json": {"model": UploadView}}}},
)
def get_upload(uploadId: str) -> UploadView:
    return upload_view(upload_service.get_upload(current_requestor(router), uploadId))


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
) -> UploadsResponse:
    page = upload_service.list_uploads(current_requestor(router), facilityId, limit, cursor)
    uploads = [upload_view(seen) for seen in page.uploads]
    if page.next_cursor is None:
        return UploadsResponse(uploads=uploads)
    return UploadsResponse(uploads=uploads, nextCursor=page.next_cursor)


@router.post(
    "/uploads/<uploadId>/confirm",
    summary="Create the upload's learners (idempotent)",
    responses={
        202: {"description": "Accepted", "content": {"application/json": {"model": ConfirmResponse}}},
        **error_responses(403, 409),
    },
)
def confirm_upload(uploadId: str, request: ConfirmUploadRequest | None = None) -> Response[ConfirmResponse]:
    options = request or ConfirmUploadRequest()
    confirmed = upload_service.confirm_upload(
        current_requestor(router),
        uploadId,
        options.skipInvalidRows,
        options.moveExisting,
        router.lambda_context,
        allow_mass_deactivation=options.allowMassDeactivation,
    )
    body = ConfirmResponse(uploadId=confirmed.upload_id, status=confirmed.status)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body)


@router.post(
    "/uploads/<uploadId>/undo-deactivations",
    summary="Reactivate the learners a sync deactivated and nothing changed since (idempotent, within 30 days)",
    responses={
        200: {"description": "OK", "content": {"application/json": {"model": UndoDeactivationsResponse}}},
        **error_responses(403, 409),
    },
)
def undo_deactivations(uploadId: str) -> UndoDeactivationsResponse:
    result = sync_undo.undo_deactivations(current_requestor(router), uploadId)
    return UndoDeactivationsResponse(reactivated=result.reactivated, skipped=result.skipped)
