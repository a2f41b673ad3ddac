"""Deployed, API Gateway answers some requests itself (no route, a missing or expired token, throttling, WAF, payload
limits, integration failures): each of those answers carries the contract's `{code, message}` body (issue #13, 6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.template import load_template

# What API Gateway answers by itself, and the contract's status and code for it (None: API Gateway's own status).
REQUIRED: dict[str, tuple[int | None, str | None]] = {
    "DEFAULT_4XX": (None, None),
    "DEFAULT_5XX": (None, None),
    "MISSING_AUTHENTICATION_TOKEN": (404, "NOT_FOUND"),
    "UNAUTHORIZED": (401, "UNAUTHENTICATED"),
    "EXPIRED_TOKEN": (401, "UNAUTHENTICATED"),
    "ACCESS_DENIED": (403, "PERMISSION_DENIED"),
    "WAF_FILTERED": (403, "PERMISSION_DENIED"),
    "THROTTLED": (429, "THROTTLED"),
    "QUOTA_EXCEEDED": (429, "THROTTLED"),
    "REQUEST_TOO_LARGE": (413, "TOO_LARGE"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "UNSUPPORTED_MEDIA_TYPE"),
    "BAD_REQUEST_BODY": (400, "VALIDATION_FAILED"),
    "INTEGRATION_FAILURE": (None, "UNAVAILABLE"),
    "INTEGRATION_TIMEOUT": (None, "UNAVAILABLE"),
}


def _gateway_responses() -> dict[str, Any]:
    resources = load_template()["Resources"]
    (api,) = [r for r in resources.values() if r.get("Type") == "AWS::Serverless::Api"]
    return dict(api["Properties"]["GatewayResponses"])


def _rendered(template: str) -> Any:
    """The body API Gateway would send: its variables filled in as it fills them (messageString comes quoted)."""
    text = template.replace("$context.error.messageString", json.dumps('Say "why", here'))
    return json.loads(text.replace("$context.error.responseType", "BAD_REQUEST_BODY"))


@pytest.mark.parametrize("response_type", sorted(REQUIRED))
def test_each_answer_of_api_gateway_itself_has_the_contract_body(response_type: str) -> None:
    # Given the API's gateway responses in template.yaml
    responses = _gateway_responses()
    # Then this kind of answer is defined, with the contract's status and a {code, message} JSON body
    assert response_type in responses, f"add GatewayResponses.{response_type} to IntakeApi"
    response = responses[response_type]
    status, code = REQUIRED[response_type]
    if status is not None:
        assert int(response["StatusCode"]) == status
    body = _rendered(response["ResponseTemplates"]["application/json"])
    assert set(body) == {"code", "message"} and isinstance(body["message"], str)
    if code is not None:
        assert body["code"] == code
    # And browsers can read it (the API's CORS origin)
    assert "Access-Control-Allow-Origin" in response["ResponseParameters"]["Headers"]


def test_every_gateway_response_has_the_contract_body() -> None:
    # Given every gateway response the template defines, Then each renders as {code, message}
    for response_type, response in _gateway_responses().items():
        body = _rendered(response["ResponseTemplates"]["application/json"])
        assert set(body) == {"code", "message"}, response_type
