"""SCIM 2.0 at /scim/v2 (RFC 7644) for an agency's directory: discovery, Users and Groups.

The caller is a SCIM app client (an access token of the client-credentials grant with the scope intake/scim, checked
by API Gateway and again here), bound to one agency. Bodies are SCIM JSON (application/scim+json or
application/json), read by scim2-models in intake.scim_service; every answer, errors included, is SCIM JSON
(`urn:ietf:params:scim:api:messages:2.0:Error`, `status` a string, `scimType`), mapped in `_scim_errors` only. These
routes are not in the OpenAPI document: the discovery endpoints describe them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any, ParamSpec

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import ValidationError
from scim2_models import Error, InvalidSyntaxException, SCIMException

from api_routes.requestor import scopes_of
from intake import scim_service
from intake.errors import (
    Conflict,
    IntakeError,
    NotFound,
    PermissionDenied,
    StorageUnavailable,
    Unauthenticated,
    ValidationFailed,
)
from intake.observability import logger

router = Router()
PREFIX = "/scim/v2"
SCIM_SCOPE = "intake/scim"
NOT_A_SCIM_CLIENT = f"Only an agency's SCIM client may call /scim/v2: send its access token (scope {SCIM_SCOPE})"
P = ParamSpec("P")

_STATUS: dict[type[IntakeError], tuple[HTTPStatus, str | None]] = {
    ValidationFailed: (HTTPStatus.BAD_REQUEST, "invalidValue"),
    Unauthenticated: (HTTPStatus.UNAUTHORIZED, None),
    PermissionDenied: (HTTPStatus.FORBIDDEN, None),
    NotFound: (HTTPStatus.NOT_FOUND, None),
    Conflict: (HTTPStatus.CONFLICT, None),
    StorageUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, None),
}


def scim_response(status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=scim_service.SCIM_CONTENT_TYPE,
        body=json.dumps(body) if body is not None else "",
        headers=headers,
    )


def scim_error(status: int, detail: str, scim_type: str | None = None) -> Response[str]:
    error = Error(status=status, detail=detail, scim_type=scim_type)
    return scim_response(status, error.model_dump())


def _scim_errors(route: Callable[P, Response[str]]) -> Callable[P, Response[str]]:
    """Every failure of a SCIM route as a SCIM error: the library's, the request's, and Intake's own."""

    @wraps(route)
    def answered(*args: P.args, **kwargs: P.kwargs) -> Response[str]:
        try:
            return route(*args, **kwargs)
        except SCIMException as exc:
            return scim_response(exc.status, scim_service.error_body(exc))
        except ValidationError as exc:  # a payload scim2-models refused: its first complaint, in SCIM's words
            errors = Error.from_validation_errors(exc)
            first = errors[0] if errors else Error(status=400, scim_type="invalidSyntax", detail="Invalid payload")
            return scim_response(int(first.status or 400), first.model_dump())
        except IntakeError as exc:
            status, scim_type = _STATUS.get(type(exc), (HTTPStatus.INTERNAL_SERVER_ERROR, None))
            if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
                logger.warning("SCIM request failed", extra={"code": exc.code})
            detail = exc.message
            if isinstance(exc, ValidationFailed) and exc.errors:
                detail = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
            return scim_response(
                status.value, Error(status=status.value, detail=detail, scim_type=scim_type).model_dump()
            )

    return answered


def _event() -> APIGatewayProxyEvent:
    event = router.current_event
    assert isinstance(event, APIGatewayProxyEvent)
    return event


def _client() -> scim_service.ScimClient:
    """The SCIM client of the request's access token (token_use access, the scope, a bound client id); else 401/403."""
    claims = dict(_event().request_context.authorizer.claims or {})
    if not claims:
        raise Unauthenticated(NOT_A_SCIM_CLIENT)
    if claims.get("token_use") != "access" or SCIM_SCOPE not in scopes_of(claims):
        raise PermissionDenied(NOT_A_SCIM_CLIENT)
    return scim_service.scim_client(str(claims.get("client_id") or ""))


def _base_url() -> str:
    """The URL of /scim/v2 as the client called it (with the stage on API Gateway's own domain)."""
    event = _event()
    host = event.headers.get("Host") or event.headers.get("host") or event.request_context.domain_name or "localhost"
    proto = event.headers.get("X-Forwarded-Proto") or event.headers.get("x-forwarded-proto") or "https"
    stage = event.request_context.stage
    on_gateway_domain = host.endswith(".amazonaws.com") and stage
    return f"{proto}://{host}{'/' + stage if on_gateway_domain else ''}{PREFIX}"


def _params() -> dict[str, str]:
    return {name: str(value) for name, value in (_event().query_string_parameters or {}).items()}


def _payload() -> Any:
    body = _event().decoded_body
    if not body:
        raise InvalidSyntaxException(detail="The request has no body: send the SCIM resource as JSON")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSyntaxException(detail="The body is not valid JSON") from exc


def _created(body: dict[str, Any]) -> Response[str]:
    location = str((body.get("meta") or {}).get("location") or "")
    return scim_response(HTTPStatus.CREATED.value, body, {"Location": location} if location else None)


# ------------------------------------------------------------------ discovery


@router.get(f"{PREFIX}/ServiceProviderConfig", include_in_schema=False)
@_scim_errors
def service_provider_config() -> Response[str]:
    _client()
    return scim_response(200, scim_service.service_provider_config(_base_url()))


@router.get(f"{PREFIX}/ResourceTypes", include_in_schema=False)
@_scim_errors
def resource_types() -> Response[str]:
    _client()
    return scim_response(200, scim_service.list_resource_types(_base_url()))


@router.get(f"{PREFIX}/ResourceTypes/<type_id>", include_in_schema=False)
@_scim_errors
def resource_type(type_id: str) -> Response[str]:
    _client()
    return scim_response(200, scim_service.get_resource_type(type_id, _base_url()))


@router.get(f"{PREFIX}/Schemas", include_in_schema=False)
@_scim_errors
def schemas() -> Response[str]:
    _client()
    return scim_response(200, scim_service.list_schemas(_base_url()))


@router.get(f"{PREFIX}/Schemas/<schema_id>", include_in_schema=False)
@_scim_errors
def schema(schema_id: str) -> Response[str]:
    _client()
    return scim_response(200, scim_service.get_schema(schema_id, _base_url()))


# ------------------------------------------------------------------ users


@router.get(f"{PREFIX}/Users", include_in_schema=False)
@_scim_errors
def list_users() -> Response[str]:
    return scim_response(200, scim_service.list_users(_client(), _params(), _base_url()))


@router.post(f"{PREFIX}/Users", include_in_schema=False)
@_scim_errors
def create_user() -> Response[str]:
    user = scim_service.create_user(_client(), _payload(), _base_url())
    return _created(scim_service.dump_user(user))


@router.post(f"{PREFIX}/.search", include_in_schema=False)
@_scim_errors
def search_all() -> Response[str]:
    _client()
    scim_service.search_all()


@router.post(f"{PREFIX}/Users/.search", include_in_schema=False)
@_scim_errors
def search_users() -> Response[str]:
    client = _client()
    return scim_response(200, scim_service.list_users(client, scim_service.search_params(_payload()), _base_url()))


@router.get(f"{PREFIX}/Users/<user_id>", include_in_schema=False)
@_scim_errors
def get_user(user_id: str) -> Response[str]:
    user = scim_service.get_user(_client(), user_id, _base_url())
    return scim_response(200, scim_service.dump_user(user, _params()))


@router.put(f"{PREFIX}/Users/<user_id>", include_in_schema=False)
@_scim_errors
def replace_user(user_id: str) -> Response[str]:
    user = scim_service.replace_user(_client(), user_id, _payload(), _base_url())
    return scim_response(200, scim_service.dump_user(user))


@router.patch(f"{PREFIX}/Users/<user_id>", include_in_schema=False)
@_scim_errors
def patch_user(user_id: str) -> Response[str]:
    user = scim_service.patch_user(_client(), user_id, _payload(), _base_url())
    return scim_response(200, scim_service.dump_user(user))


@router.delete(f"{PREFIX}/Users/<user_id>", include_in_schema=False)
@_scim_errors
def delete_user(user_id: str) -> Response[str]:
    scim_service.delete_user(_client(), user_id)
    return scim_response(HTTPStatus.NO_CONTENT.value, None)


# ------------------------------------------------------------------ groups


@router.get(f"{PREFIX}/Groups", include_in_schema=False)
@_scim_errors
def list_groups() -> Response[str]:
    return scim_response(200, scim_service.list_groups(_client(), _params(), _base_url()))


@router.post(f"{PREFIX}/Groups", include_in_schema=False)
@_scim_errors
def create_group() -> Response[str]:
    scim_service.create_group(_client(), _payload(), _base_url())


@router.post(f"{PREFIX}/Groups/.search", include_in_schema=False)
@_scim_errors
def search_groups() -> Response[str]:
    client = _client()
    return scim_response(200, scim_service.list_groups(client, scim_service.search_params(_payload()), _base_url()))


@router.get(f"{PREFIX}/Groups/<group_id>", include_in_schema=False)
@_scim_errors
def get_group(group_id: str) -> Response[str]:
    group = scim_service.get_group(_client(), group_id, _base_url())
    return scim_response(200, scim_service.dump_group(group, _params()))


@router.put(f"{PREFIX}/Groups/<group_id>", include_in_schema=False)
@_scim_errors
def replace_group(group_id: str) -> Response[str]:
    group = scim_service.replace_group(_client(), group_id, _payload(), _base_url())
    return scim_response(200, scim_service.dump_group(group))


@router.patch(f"{PREFIX}/Groups/<group_id>", include_in_schema=False)
@_scim_errors
def patch_group(group_id: str) -> Response[str]:
    group = scim_service.patch_group(_client(), group_id, _payload(), _base_url())
    return scim_response(200, scim_service.dump_group(group))


@router.delete(f"{PREFIX}/Groups/<group_id>", include_in_schema=False)
@_scim_errors
def delete_group(group_id: str) -> Response[str]:
    scim_service.delete_group(_client(), group_id)
