"""Every error of the API becomes the contract's {code, message, ...} body here, and nowhere else."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from intake.errors import (
    AccountDisabled,
    Conflict,
    IntakeError,
    InvalidCredentials,
    LearnerExists,
    LockedOut,
    MfaRequired,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
    TooLarge,
    Unauthenticated,
    ValidationFailed,
)
from intake.observability import logger

SCIM_PREFIX = "/scim/"
SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

STATUS_OF: dict[type[IntakeError], HTTPStatus] = {
    ValidationFailed: HTTPStatus.BAD_REQUEST,
    Unauthenticated: HTTPStatus.UNAUTHORIZED,
    PermissionDenied: HTTPStatus.FORBIDDEN,
    MfaRequired: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    LearnerExists: HTTPStatus.CONFLICT,
    Conflict: HTTPStatus.CONFLICT,
    TooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    StorageUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
    InvalidCredentials: HTTPStatus.UNAUTHORIZED,
    AccountDisabled: HTTPStatus.FORBIDDEN,
    LockedOut: HTTPStatus.TOO_MANY_REQUESTS,
}


def error_response(status: HTTPStatus, code: str, message: str, **details: object) -> Response:
    """A JSON error body of the contract."""
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body={"code": code, "message": message, **details},
    )


def _field_of(location: tuple) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Pydantic's complaints as the contract's [{field, code, message}]."""
    errors = []
    for error in exc.errors():
        field = _field_of(tuple(error.get("loc", ())))
        missing = error.get("type") == "missing"
        code = "REQUIRED" if missing else "INVALID_VALUE"
        if error.get("type") == "json_invalid":
            field, message = "body", "The body is not valid JSON"
        elif error.get("type") == "extra_forbidden":
            message = f"{field} is not a field of this request: remove it"
        else:
            message = f"{field} is required" if missing else f"{field}: {error.get('msg', 'invalid value')}"
        errors.append({"field": field, "code": code, "message": message})
    return errors


def _body_undecodable(app: APIGatewayRestResolver) -> bool:
    # A binary body reaches us base64-encoded; Powertools decodes it as UTF-8 before JSON parsing.
    event = app.current_event
    if not event.is_base64_encoded or not event.body:
        return False
    try:
        base64.b64decode(event.body).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return True
    return False


# Methods whose request may carry a body: the only ones a Content-Type is checked on.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_UTF8 = frozenset({"utf-8", "utf8"})
UNSUPPORTED_MEDIA_MESSAGE = "Send the request body as JSON: Content-Type: application/json (UTF-8)"


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    for key, values in (event.get("multiValueHeaders") or {}).items():
        if key.lower() == name and values:
            return str(values[-1])
    return None


def is_json_media_type(content_type: str) -> bool:
    """Whether a Content-Type names JSON in UTF-8: application/json or application/*+json, charset UTF-8 if any."""
    media_type, *parameters = (part.strip() for part in content_type.split(";"))
    media_type = media_type.lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            return False
    return True


def _normalize_content_type(event: dict[str, Any]) -> None:
    # Media types are case-insensitive (RFC 9110) and +json is JSON; Powertools only reads `application/json...`.
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key) or {}
        for name in [name for name in headers if name.lower() == "content-type"]:
            del headers[name]
        if key in event and event[key] is not None:
            headers["Content-Type"] = (
                [content_types.APPLICATION_JSON] if key == "multiValueHeaders" else "application/json"
            )


def unsupported_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """The 415 answer for a request whose body is declared as anything but UTF-8 JSON, else None.

    Checked before routing: Powertools would otherwise parse form bodies as if they were JSON fields, raise on a
    multipart type without a boundary (a 5xx), and answer other types with its own 415 body. A request without a
    Content-Type is read as JSON, as before.
    """
    if str(event.get("httpMethod", "")).upper() not in _BODY_METHODS:
        return None
    content_type = _header(event, "content-type")
    if content_type is None:
        return None
    if is_json_media_type(content_type):
        _normalize_content_type(event)
        return None
    body = {"code": "UNSUPPORTED_MEDIA_TYPE", "message": UNSUPPORTED_MEDIA_MESSAGE}
    return {
        "statusCode": HTTPStatus.UNSUPPORTED_MEDIA_TYPE.value,
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """Map domain errors, request validation and unknown routes to the contract's statuses."""

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_media(exc: RequestUnsupportedContentType) -> Response:
        # unsupported_media_type refuses these before routing; this keeps Powertools' own 415 body out regardless.
        return error_response(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE", UNSUPPORTED_MEDIA_MESSAGE)

    @app.exception_handler(IntakeError)
    def _intake_error(exc: IntakeError) -> Response:
        status = STATUS_OF.get(type(exc), HTTPStatus.INTERNAL_SERVER_ERROR)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.warning("request failed", extra={"code": exc.code})
        response = error_response(status, exc.code, exc.message, **exc.details())
        if isinstance(exc, LockedOut):
            # RFC 9110's Retry-After (delay-seconds), the same number as the body's retryAfter
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    def _request_invalid(exc: RequestValidationError) -> Response:
        errors = validation_errors(exc)
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return error_response(
            HTTPStatus.BAD_REQUEST, "VALIDATION_FAILED", f"Some fields need fixing: {fields}", errors=errors
        )

    @app.exception_handler(UnicodeDecodeError)
    def _body_not_text(exc: UnicodeDecodeError) -> Response:
        if not _body_undecodable(app):
            raise exc
        message = "The body is not valid JSON: send it as UTF-8 text"
        return error_response(
            HTTPStatus.BAD_REQUEST,
            "VALIDATION_FAILED",
            message,
            errors=[{"field": "body", "code": "INVALID_VALUE", "message": message}],
        )

    @app.not_found
    def _no_route(exc: NotFoundError) -> Response:
        path = app.current_event.path
        if path.startswith(SCIM_PREFIX):  # SCIM's clients read SCIM's error body (RFC 7644 §3.12)
            # the discovery endpoints are read-only: another method is 405 there (RFC 7644 §4)
            read_only = path.rstrip("/").split("/")[3:4] in (["ServiceProviderConfig"], ["ResourceTypes"], ["Schemas"])
            status = HTTPStatus.METHOD_NOT_ALLOWED if read_only else HTTPStatus.NOT_FOUND
            detail = "The discovery endpoints answer GET only" if read_only else "No such SCIM endpoint"
            return Response(
                status_code=status.value,
                content_type="application/scim+json",
                body=json.dumps({"schemas": [SCIM_ERROR_SCHEMA], "status": str(status.value), "detail": detail}),
            )
        return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", "No such route")
