"""API Gateway (REST) entry point: routing, validation and error mapping; all logic lives in the intake package.

Each resource's Router (api_routes.*) is imported and included on the first request under its path, not at import:
a sandbox's first call loads only the routers that can answer it (GET /health loads one small module, not the
domain, the DAL and PynamoDB). The OpenAPI document includes them all first, so it still lists every route.
"""

from __future__ import annotations

import importlib
import json
import threading
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from api_routes.errors import register_error_handlers, unsupported_media_type
from intake.observability import logger, metrics, snapshotting, tracer

# The first segment of a request path -> the api_routes modules with a route under it. Every module whose routes
# could match a path is loaded before the path is resolved, so a static route still wins over a dynamic one exactly
# as if all were loaded (tests/unit/api/test_lazy_routes.py checks this table against the routers themselves).
ROUTERS_BY_SEGMENT: dict[str, tuple[str, ...]] = {
    "health": ("health",),
    "facilities": ("facilities", "learners", "uploads", "locations", "audit"),
    "learners": ("learners",),
    "learner-sign-ins": ("sign_ins",),
    "uploads": ("uploads",),
    "agencies": ("agencies", "scim_holds"),
    "locations": ("locations",),
    "staff": ("staff_admin",),
    "scim": ("scim",),
    "": ("web",),
    "docs": ("web",),
    "static": ("web",),
    "client-config": ("web",),
}
# Every router, in the order they were included when all were imported at once.
ROUTER_MODULES: tuple[str, ...] = ("health", "facilities", "learners", "sign_ins", "uploads", "agencies", "locations")
ROUTER_MODULES += ("staff_admin", "audit", "web", "scim", "scim_holds")

app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app)
_included: set[str] = set()
_including = threading.Lock()  # the local stack answers requests in threads: a router is still included once


def include_routers(modules: tuple[str, ...]) -> None:
    """Import and include the named api_routes modules' routers, each once per sandbox."""
    if all(name in _included for name in modules):
        return
    with _including:
        for name in modules:
            if name not in _included:
                app.include_router(importlib.import_module(f"api_routes.{name}").router)
                _included.add(name)


def routers_for(path: str) -> tuple[str, ...]:
    """The api_routes modules that may answer `path` (none for a path no router serves: 404)."""
    return ROUTERS_BY_SEGMENT.get(path.lstrip("/").split("/", 1)[0], ())


def include_all_routers() -> None:
    include_routers(ROUTER_MODULES)


@lru_cache(maxsize=1)
def openapi_json() -> str:
    """The OpenAPI document, generated once per sandbox (routes do not change at run time)."""
    from api_routes.openapi import contract_document

    include_all_routers()
    generated = json.loads(app.get_openapi_json_schema(title="Intake", version="1.0.0"))
    return json.dumps(contract_document(generated))


@app.get("/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_json())


if snapshotting():
    # every router goes into the snapshot, so no restored sandbox imports one on a request
    include_all_routers()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refused = unsupported_media_type(event)
    if refused is not None:
        return refused
    include_routers(routers_for(str(event.get("path") or "/")))
    return app.resolve(event, context)
