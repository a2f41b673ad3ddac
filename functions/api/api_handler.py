"""API Gateway (REST) entry point: routing, validation and error mapping; all logic lives in the intake package."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_routes import (
    agencies,
    audit,
    facilities,
    health,
    learners,
    locations,
    sign_ins,
    staff_admin,
    uploads,
    web,
)
from api_routes.errors import register_error_handlers, unsupported_media_type
from api_routes.openapi import contract_document
from intake.observability import logger, metrics, tracer

app = APIGatewayRestResolver(enable_validation=True)
for module in (health, facilities, learners, sign_ins, uploads, agencies, locations, staff_admin, audit, web):
    app.include_router(module.router)
register_error_handlers(app)


@lru_cache(maxsize=1)
def openapi_json() -> str:
    """The OpenAPI document, generated once per sandbox (routes do not change at run time)."""
    generated = json.loads(app.get_openapi_json_schema(title="Intake", version="1.0.0"))
    return json.dumps(contract_document(generated))


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refused = unsupported_media_type(event)
    if refused is not None:
        return refused
    return app.resolve(event, context)
