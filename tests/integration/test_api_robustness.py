"""Regressions schemathesis found against the local stack (tests/e2e/test_schemathesis.py), pinned in-process."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from tests.conftest import load_event


@pytest.mark.parametrize("path", ["/learners", "/learners/any/move", "/uploads", "/uploads/any/confirm"])
def test_a_body_that_is_not_utf8_is_a_400_not_a_crash(path, directory, lambda_context) -> None:
    import api_handler

    # Given a POST whose body is bytes that are not UTF-8 (API Gateway passes them base64-encoded)
    event = copy.deepcopy(load_event("api_request.json"))
    event.update(httpMethod="POST", path=path, body=base64.b64encode(b"\xff_").decode(), isBase64Encoded=True)
    event["requestContext"]["authorizer"] = {"claims": {"cognito:username": "ridge"}}
    # When the API handles it
    response = api_handler.lambda_handler(event, lambda_context)
    # Then the contract's 400 naming the body, not an unhandled error (a 502)
    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["code"] == "VALIDATION_FAILED"
    assert [error["field"] for error in body["errors"]] == ["body"]
