"""The staff page's routes in-process: files, content types, caching, security headers and the sign-in settings."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest

from tests.conftest import FakeLambdaContext, load_event, reset_intake_caches

BUCKET = "intake-uploads-test"


@pytest.fixture
def web(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The API function's environment in AWS; no storage: the page's routes only sign a URL, which is local work."""
    monkeypatch.setenv("UPLOADS_BUCKET", BUCKET)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    reset_intake_caches()
    yield
    reset_intake_caches()


def get(path: str, public_path: str | None = None) -> tuple[int, dict[str, str], str]:
    """GET a path through the API handler as API Gateway would, without a token; `public_path` is the stage URL."""
    import api_handler

    event = copy.deepcopy(load_event("api_request.json"))
    event["path"] = path
    event["requestContext"]["path"] = public_path if public_path is not None else "/prod" + path
    event["requestContext"]["authorizer"] = {}
    response = api_handler.lambda_handler(event, FakeLambdaContext())
    headers = dict(response.get("headers") or {})
    headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items() if v})
    return response["statusCode"], headers, response.get("body") or ""


def directives(policy: str) -> dict[str, list[str]]:
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def test_the_page_is_html_with_a_strict_policy(web: None) -> None:
    # Given the API in AWS (no embedded endpoint)
    # When the page is fetched under its stage
    status, headers, body = get("/", public_path="/prod/")

    # Then it is uncached HTML naming versioned assets, and its policy allows no inline code and no other site
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert '<script src="static/app.js?v=' in body and "{{version}}" not in body
    policy = directives(headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == [
        "'self'",
        "https://cognito-idp.us-east-1.amazonaws.com",
        f"https://{BUCKET}.s3.amazonaws.com",
    ]


def test_the_stage_url_without_a_slash_redirects_to_the_page(web: None) -> None:
    # Given a staff member who typed the API URL without its last slash
    # When it is fetched
    status, headers, _ = get("/", public_path="/prod")

    # Then they are sent to the page, so its relative links resolve under the stage
    assert (status, headers["Location"]) == (301, "/prod/")


def test_the_embedded_aws_is_where_the_page_signs_in(web: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the local stack's environment: an embedded AWS endpoint and the user pool's app client
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5999")
    monkeypatch.setenv("USER_POOL_ID", "us-east-1_pool")
    monkeypatch.setenv("USER_POOL_CLIENT_ID", "client123")
    monkeypatch.delenv("WEB_AUTH_FLOW", raising=False)
    reset_intake_caches()

    # When the page asks for its settings, and the page itself is fetched
    status, headers, body = get("/client-config")
    _, page_headers, _ = get("/", public_path="/local/")

    # Then it signs in at the embedded endpoint with the app client, and may connect there
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert json.loads(body) == {
        "region": "us-east-1",
        "userPoolId": "us-east-1_pool",
        "userPoolClientId": "client123",
        "cognitoEndpoint": "http://127.0.0.1:5999/",
        "authFlow": "USER_SRP_AUTH",
    }
    assert "http://127.0.0.1:5999" in directives(page_headers["Content-Security-Policy"])["connect-src"]


@pytest.mark.parametrize(
    ("name", "content_type", "marker"),
    [
        ("app.js", "text/javascript; charset=utf-8", "authenticateUser"),
        ("amazon-cognito-identity.min.js", "text/javascript; charset=utf-8", "PASSWORD_VERIFIER"),
        ("app.css", "text/css; charset=utf-8", "@media print"),
        ("docs.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"),
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"),
        ("swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"),
    ],
)
def test_static_files_have_their_type_and_are_cached(web: None, name: str, content_type: str, marker: str) -> None:
    # Given a file the pages use
    # When it is fetched
    status, headers, body = get(f"/static/{name}")

    # Then it comes with its type and may be cached for long (pages link it by content hash)
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert marker in body


@pytest.mark.parametrize("name", ["index.html", "..%2Fapi_handler.py", "swagger-ui-bundle.js.map", "web.py"])
def test_other_files_are_not_served(web: None, name: str) -> None:
    # Given a name that is not one of the served files
    # When it is asked for
    status, _, body = get(f"/static/{name}")

    # Then 404 NOT_FOUND, as for any unknown route
    assert status == 404
    assert '"NOT_FOUND"' in body


def test_api_docs_load_swagger_ui_from_the_api_itself(web: None) -> None:
    # Given the API
    # When the docs page is fetched
    status, headers, body = get("/docs")

    # Then it loads Swagger UI from the API's own static files, under the same strict policy
    assert status == 200
    assert 'src="static/swagger-ui-bundle.js?v=' in body and 'href="static/swagger-ui.css?v=' in body
    assert "https://" not in body
    assert directives(headers["Content-Security-Policy"])["script-src"] == ["'self'"]
