"""schemathesis hooks of tests/e2e/test_schemathesis.py (loaded with SCHEMATHESIS_HOOKS): the contract's own check."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def contract_error_body(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error answer (4xx/5xx, but a HEAD's) is JSON `{code, message, ...}` with string code and message."""
    if response.status_code < 400 or response.request.method == "HEAD":
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not str(content_type).startswith("application/json"):
        raise AssertionError(f"{response.status_code} answered with Content-Type {content_type!r}, not JSON")
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"{response.status_code} body is not JSON: {response.content[:200]!r}") from error
    if not isinstance(body, dict) or not isinstance(body.get("code"), str) or not isinstance(body.get("message"), str):
        raise AssertionError(f"{response.status_code} body is not {{code, message}}: {str(body)[:200]}")
    return None
