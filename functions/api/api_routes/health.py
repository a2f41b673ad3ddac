"""GET /health: no token, no storage."""

from aws_lambda_powertools.event_handler.api_gateway import Router

from api_routes.models import HealthResponse

router = Router()


@router.get("/health", summary="Liveness", security=[])
def health() -> HealthResponse:
    return HealthResponse(status="ok")
