"""Regressions schemathesis found against the local stack (tests/e2e/test_schemathesis.py), pinned in-process."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from tests.conftest import load_event


@pytest.mark.parametrize("path", ["/learners", "/learners/any/move", "/uploads", "/uploads/any/confirm"])
def test_a_body_that_is_not_utf8_is_a_400_not_a_crash(path, directory, lambda_context) -> None:
    import api_handler

    # Given a POST whose body is bytes that are not UTF-8 (API Gateway passes them base64-encoded)
    event = copy.deepcopy(load_event("api_request.json"))
    event.update(httpMethod="POST", path=path, body=base64.b64encode(b"\xff_").decode(), isBase64Encoded=True)
    event["requestContext"]["authorizer"] = {"claims": {"cognito:username": "ridge", "token_use": "id"}}
    # When the API handles it
    response = api_handler.lambda_handler(event, lambda_context)
    # Then the contract's 400 naming the body, not an unhandled error (a 502)
    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["code"] == "VALIDATION_FAILED"
    assert [error["field"] for error in body["errors"]] == ["body"]


REFUSED_CONTENT_TYPES = [
    "multipart/form-data",  # no boundary: Powertools raised (a 502 over the gateway)
    "multipart/form-data; boundary=x",
    "text/plain",  # Powertools' own 415 body
    "application/x-www-form-urlencoded",  # parsed as form fields
    "application/xml",
    "application/json; charset=latin-1",
    "application/jsonx",
    ";;;",
    "",
]


@pytest.mark.parametrize("content_type", REFUSED_CONTENT_TYPES)
@pytest.mark.parametrize("path", ["/learners", "/agencies", "/facilities", "/uploads", "/staff/teacher/disable"])
def test_a_body_that_is_not_json_is_a_415_in_the_contracts_shape(path, content_type, call_api_headers) -> None:
    # Given a POST whose body is declared as something other than UTF-8 JSON
    # When the API handles it
    status, body = call_api_headers("POST", path, {"Content-Type": content_type}, '{"name": "X"}')
    # Then the contract's 415, never a 5xx or another body
    assert status == 415, body
    assert body == {
        "code": "UNSUPPORTED_MEDIA_TYPE",
        "message": "Send the request body as JSON: Content-Type: application/json (UTF-8)",
    }


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=UTF-8", "Application/JSON", None]
)
def test_json_bodies_still_reach_the_route(content_type, call_api_headers) -> None:
    # Given a POST with a JSON body (or no Content-Type, read as JSON as before)
    headers = {"Content-Type": content_type} if content_type else {}
    # When the API handles it
    status, body = call_api_headers("POST", "/agencies", headers, '{"agencyId": "ag-json", "name": "Json"}')
    # Then the route ran: the agency exists
    assert status == 201, body
    from intake.dal import directory as store

    assert store.get_agency("ag-json") is not None


@pytest.fixture
def call_api_headers(directory, lambda_context):
    """The handler called as API Gateway would, as the SystemAdmin, with the given headers and raw body."""
    import api_handler

    def call(method: str, path: str, headers: dict[str, str], raw_body: str | None) -> tuple[int, Any]:
        event = copy.deepcopy(load_event("api_request.json"))
        event.update(httpMethod=method, path=path, body=raw_body, isBase64Encoded=False)
        event["headers"] = {**(event.get("headers") or {}), **headers}
        event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
        event["requestContext"]["httpMethod"] = method
        event["requestContext"]["authorizer"] = {"claims": {"cognito:username": "sys", "token_use": "id"}}
        response = api_handler.lambda_handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"])

    return call
