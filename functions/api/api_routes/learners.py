"""Single learners: create, get, find by DOC ID, move."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from api_routes.requestor import current_requestor
from intake import learner_service
from intake.api_models import (
    CreatedLearnerResponse,
    CreateLearnerRequest,
    LearnerResponse,
    LearnersResponse,
    MoveLearnerRequest,
)
from intake.domain import NewLearner
from intake.openapi import error_responses

router = Router()


@router.post(
    "/learners",
    summary="Create one learner",
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": CreatedLearnerResponse}}},
        **error_responses(403, 409),
    },
)
def create_learner(request: CreateLearnerRequest) -> Response[dict[str, Any]]:
    new = NewLearner(
        location_id=request.locationId,
        doc_id=request.docId,
        first_name=request.firstName,
        last_name=request.lastName,
        date_of_birth=request.dateOfBirth,
        password=request.password,
    )
    created = learner_service.create_learner(current_requestor(router), new)
    body: dict[str, Any] = {"learner": created.learner.to_json_dict()}
    if created.generated_password is not None:
        body["generatedPassword"] = created.generated_password
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@router.get("/learners/<learnerId>", summary="One learner")
def get_learner(learnerId: str) -> LearnerResponse:
    return LearnerResponse(learner=learner_service.get_learner(current_requestor(router), learnerId))


@router.get("/learners", summary="Learners with a DOC ID, in the requestor's agency")
def find_learners(docId: Annotated[str, Query(min_length=1, max_length=100)]) -> LearnersResponse:
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
