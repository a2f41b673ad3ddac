"""Every error of the API becomes the contract's {code, message, ...} body here, and nowhere else."""

from __future__ import annotations

import base64
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from intake.errors import (
    Conflict,
    IntakeError,
    LearnerExists,
    MfaRequired,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
    TooLarge,
    Unauthenticated,
    ValidationFailed,
)
from intake.observability import logger

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


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """Map domain errors, request validation and unknown routes to the contract's statuses."""

    @app.exception_handler(IntakeError)
    def _intake_error(exc: IntakeError) -> Response:
        status = STATUS_OF.get(type(exc), HTTPStatus.INTERNAL_SERVER_ERROR)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.warning("request failed", extra={"code": exc.code})
        return error_response(status, exc.code, exc.message, **exc.details())

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
        return error_response(HTTPStatus.NOT_FOUND, "NOT_FOUND", "No such route")
