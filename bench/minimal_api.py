"""Bench fixture, never shipped: the smallest Powertools REST handler of the API's kind, to measure the API against.

One route and one Pydantic response model behind `APIGatewayRestResolver(enable_validation=True)`, with Logger,
Metrics and Tracer and the API's decorator stack (api_handler.lambda_handler). `bench.coldstart` imports it in a fresh
process and calls it once, interleaved with the API, so "API / minimal" is what Intake adds to a cold start.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))  # as intake.observability: botocore alone, not Powertools' patch_all
app = APIGatewayRestResolver(enable_validation=True)


class HealthResponse(BaseModel):
    status: str = "ok"


@app.get("/health")
def health() -> HealthResponse:
    return HealthResponse(status="ok")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
