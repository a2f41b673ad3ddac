"""GET /health: no token, no storage, and none of the domain: the cheapest first call a sandbox can get."""

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict

router = Router()


# Here rather than in api_routes.models (its docstring would become the schema's description), so that /health
# does not import the domain's models.
class HealthResponse(BaseModel):
    model_config = ConfigDict(defer_build=True)  # as intake.domain.BodyModel

    status: str = "ok"


@router.get("/health", summary="Liveness", security=[])
def health() -> HealthResponse:
    return HealthResponse(status="ok")
