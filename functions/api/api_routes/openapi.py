"""The API's OpenAPI document as clients see it: the contract's error bodies and the Cognito bearer token."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from api_routes.models import ErrorResponse

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

SECURITY_SCHEME = "cognitoIdToken"
# The contract: every route but GET /health needs a token.
PUBLIC_OPERATIONS = frozenset({("get", "/health")})
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ERROR_DESCRIPTIONS = {
    400: "VALIDATION_FAILED: the request names what to fix in `errors` [{field, code, message}]",
    401: "UNAUTHENTICATED: no valid Cognito ID token, or no active Intake staff record behind it",
    403: "PERMISSION_DENIED: the requestor may see this but not do this",
    404: "NOT_FOUND: no such resource, or it lies outside the requestor's scope",
    409: "LEARNER_EXISTS (with `existing`) or CONFLICT: the resource is not in a state that allows this",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE: a request body must be JSON (`Content-Type: application/json`, UTF-8)",
    429: "TOO_MANY_REQUESTS: this client (IP address or token) passed the API's rate limit; retry after a minute",
    503: "UNAVAILABLE: the data store is busy; retry after a moment",
}
_BODY_METHODS = frozenset({"post", "put", "patch", "delete"})
_POWERTOOLS_ONLY = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def error_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """Route-level `responses` entries for errors a route answers beyond the defaults (body filled in later)."""
    return {status: {"description": ERROR_DESCRIPTIONS[status]} for status in statuses}


def json_response(model: type, description: str) -> OpenAPIResponse:
    """A route-level success entry whose JSON body is the model the route returns."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def contract_document(raw: dict[str, Any]) -> dict[str, Any]:
    """Powertools' generated document with the real error responses and the bearer security scheme."""
    document = copy.deepcopy(raw)
    document.setdefault("info", {})["license"] = {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in _error_schemas().items():
        schemas[name] = schema
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Cognito user-pool ID token in the Authorization header (`Bearer ` prefix optional)",
        }
    }
    document["security"] = [{SECURITY_SCHEME: []}]
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                _fix_operation(method, path, item[method])
    for name in _POWERTOOLS_ONLY:
        schemas.pop(name, None)
    return document


def _error_schemas() -> dict[str, Any]:
    schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {**definitions, "ErrorResponse": schema}


def _fix_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    public = (method, path) in PUBLIC_OPERATIONS
    if public:
        operation["security"] = []
    statuses = {429} if public else {401, 429, 503}  # 429: the WAF's rate rules stand before every route
    parameters = operation.get("parameters", [])
    # Path parameters are plain strings: only bodies and query strings can fail validation.
    if "requestBody" in operation or any(parameter.get("in") != "path" for parameter in parameters):
        statuses.add(400)
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.add(404)
    if method in _BODY_METHODS:
        statuses.add(415)  # any Content-Type but JSON is refused before routing (api_routes.errors)
    for code in statuses:
        responses.setdefault(str(code), {"description": ERROR_DESCRIPTIONS[code]})
    for status, response in responses.items():
        if int(status) >= 400:
            response["content"] = {"application/json": {"schema": dict(_ERROR_REF)}}
    operation["responses"] = dict(sorted(responses.items()))
