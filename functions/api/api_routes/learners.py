"""Learners: create, get, find by DOC ID, move; a facility's roster, edits, status, password resets and cards."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from api_routes.models import (
    DOC_ID_SCHEMA,
    CreatedLearnerResponse,
    CreateLearnerRequest,
    EditLearnerRequest,
    LearnerCardsRequest,
    LearnerResponse,
    LearnersResponse,
    MoveLearnerRequest,
    PasswordResetResponse,
    ResetPasswordRequest,
    RosterResponse,
    SetStatusesRequest,
    StatusResultOut,
    StatusResultsResponse,
)
from api_routes.openapi import error_responses, json_response
from api_routes.requestor import current_requestor
from intake import card_service, learner_service
from intake.domain import LearnerEdit, LearnerStatus, NewLearner

router = Router()


@router.post(
    "/learners",
    summary="Create one learner",
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": CreatedLearnerResponse}}},
        **error_responses(403, 409),
    },
)
def create_learner(request: CreateLearnerRequest) -> Response[CreatedLearnerResponse]:
    new = NewLearner(
        location_id=request.locationId,
        doc_id=request.docId,
        first_name=request.firstName,
        last_name=request.lastName,
        date_of_birth=request.dateOfBirth,
        password=request.password,
    )
    created = learner_service.create_learner(current_requestor(router), new)
    shown_once = {} if created.generated_password is None else {"generatedPassword": created.generated_password}
    body = CreatedLearnerResponse(learner=created.learner, outcome=created.outcome, **shown_once)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@router.get("/learners/<learnerId>", summary="One learner")
def get_learner(learnerId: str) -> LearnerResponse:
    return LearnerResponse(learner=learner_service.get_learner(current_requestor(router), learnerId))


@router.get("/learners", summary="Learners with a DOC ID, in the requestor's agency")
def find_learners(
    docId: Annotated[str, Query(min_length=1, max_length=100, json_schema_extra=DOC_ID_SCHEMA)],
) -> LearnersResponse:
    return LearnersResponse(learners=learner_service.find_learners(current_requestor(router), docId))


@router.post(
    "/learners/<learnerId>/move",
    summary="Move a learner to a location of the requestor's scope",
    responses={
        200: {"description": "Moved", "content": {"application/json": {"model": LearnerResponse}}},
        **error_responses(403, 409),
    },
)
def move_learner(learnerId: str, request: MoveLearnerRequest) -> LearnerResponse:
    moved = learner_service.move_learner(current_requestor(router), learnerId, request.locationId)
    return LearnerResponse(learner=moved)


@router.get(
    "/facilities/<facilityId>/learners",
    summary="A facility's learners: a page of its roster, or a search",
    description="Sorted by last then first name. `q` matches the start of a DOC ID, username, first name, last name "
    'or "first last" (case and accents ignored); a search answers one page without `nextCursor`.',
    responses={200: json_response(RosterResponse, "A page of learners")},
)
def list_facility_learners(
    facilityId: str,
    q: Annotated[str | None, Query(max_length=100, description="A DOC ID, username or name prefix")] = None,
    locationId: Annotated[str | None, Query(max_length=100, description="Only this housing unit")] = None,
    status: Annotated[
        Literal["ACTIVE", "INACTIVE", "ALL"], Query(description="ACTIVE (default), INACTIVE or ALL")
    ] = "ACTIVE",
    limit: Annotated[int, Query(ge=1, le=200, description="Learners per page")] = 50,
    cursor: Annotated[str | None, Query(max_length=2000, description="nextCursor of the previous page")] = None,
) -> RosterResponse:
    page = learner_service.list_learners(
        current_requestor(router),
        facilityId,
        q=q or None,
        location_id=locationId or None,
        status=status,
        limit=limit,
        cursor=cursor or None,
    )
    more = {} if page.next_cursor is None else {"nextCursor": page.next_cursor}
    return RosterResponse(learners=page.learners, **more)


@router.patch(
    "/learners/<learnerId>",
    summary="Fix a learner's name, date of birth or housing unit (within its facility)",
    responses={200: json_response(LearnerResponse, "Changed"), **error_responses(403, 409)},
)
def edit_learner(learnerId: str, request: EditLearnerRequest) -> LearnerResponse:
    changes = LearnerEdit(
        first_name=request.firstName,
        last_name=request.lastName,
        date_of_birth=request.dateOfBirth,
        location_id=request.locationId,
    )
    return LearnerResponse(learner=learner_service.edit_learner(current_requestor(router), learnerId, changes))


@router.post(
    "/learners/<learnerId>/deactivate",
    summary="Deactivate a learner (repeating it changes nothing and answers the same)",
    responses={200: json_response(LearnerResponse, "Inactive"), **error_responses(403)},
)
def deactivate_learner(learnerId: str) -> LearnerResponse:
    changed = learner_service.set_learner_status(current_requestor(router), learnerId, LearnerStatus.INACTIVE)
    return LearnerResponse(learner=changed)


@router.post(
    "/learners/<learnerId>/reactivate",
    summary="Reactivate a learner (repeating it changes nothing and answers the same)",
    responses={200: json_response(LearnerResponse, "Active"), **error_responses(403)},
)
def reactivate_learner(learnerId: str) -> LearnerResponse:
    changed = learner_service.set_learner_status(current_requestor(router), learnerId, LearnerStatus.ACTIVE)
    return LearnerResponse(learner=changed)


@router.post(
    "/facilities/<facilityId>/learners/status",
    summary="Deactivate or reactivate a selection of a facility's learners",
    responses={200: json_response(StatusResultsResponse, "One result per learner"), **error_responses(403)},
)
def set_learner_statuses(facilityId: str, request: SetStatusesRequest) -> StatusResultsResponse:
    results = learner_service.set_statuses(current_requestor(router), facilityId, request.learnerIds, request.status)
    return StatusResultsResponse(
        results=[StatusResultOut(learnerId=result.learner_id, outcome=result.outcome) for result in results]
    )


@router.post(
    "/learners/<learnerId>/password",
    summary="Give a learner a new password (the old one stops working at once)",
    responses={200: json_response(PasswordResetResponse, "Reset"), **error_responses(403)},
)
def reset_password(learnerId: str, request: ResetPasswordRequest) -> PasswordResetResponse:
    reset = learner_service.reset_password(current_requestor(router), learnerId, request.password or None)
    shown_once = {} if reset.generated_password is None else {"generatedPassword": reset.generated_password}
    return PasswordResetResponse(learner=reset.learner, **shown_once)


PDF = "application/pdf"
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9_.-]")


def cards_filename(facility_id: str) -> str:
    """The PDF's attachment name: the facility id with anything a header or a file system could trip on replaced."""
    return f"learner-cards-{_UNSAFE_IN_FILENAME.sub('_', facility_id)[:100]}.pdf"


@router.post(
    "/facilities/<facilityId>/learner-cards",
    summary="Learner cards to print (Letter, eight a page); with resetPasswords each card has a new password",
    description="Send `Accept: application/pdf` (first): API Gateway hands the PDF's bytes only to a request whose "
    "first Accept type is a binary media type. The PDF is not cached (`Cache-Control: no-store`).",
    responses={
        200: {
            "description": "application/pdf attachment, one card per learner",
            "content": {PDF: {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(403),
    },
)
def learner_cards(facilityId: str, request: LearnerCardsRequest):
    # No return annotation: with one (Response[bytes]) Powertools' response validation decodes the PDF's bytes as
    # text; without, the bytes reach the response builder, which sends them base64-encoded (isBase64Encoded).
    pdf = card_service.learner_cards(
        current_requestor(router), facilityId, request.learnerIds, reset_passwords=request.resetPasswords
    )
    return Response(
        status_code=200,
        content_type=PDF,
        body=pdf,
        headers={
            "Content-Disposition": f'attachment; filename="{cards_filename(facilityId)}"',
            # New passwords may be in it: no cache anywhere keeps a copy.
            "Cache-Control": "no-store",
        },
    )
