"""The local stack's API answers every method and every broken request with the contract's `{code, message}` body,
over raw HTTP (issue #13, finding 6): no 5xx, no http.server HTML page, no Powertools body."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e

TIMEOUT_SECONDS = 30


def _raw(stack: dict[str, Any], request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes to the API, read the whole answer (the request says Connection: close)."""
    url = urlsplit(stack["apiUrl"])
    with socket.create_connection((url.hostname, url.port), timeout=TIMEOUT_SECONDS) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


def _request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    sent = dict(headers or {})
    if body and "Content-Length" not in sent:
        sent["Content-Length"] = str(len(body))
    lines += [f"{name}: {value}" for name, value in sent.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _contract_body(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    assert status < 500, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:300])
    parsed = json.loads(body)
    assert isinstance(parsed.get("code"), str) and isinstance(parsed.get("message"), str), parsed
    return parsed


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "DELETE", "PUT", "PATCH", "FOO", "HEAD"])
def test_a_method_no_route_has_is_a_405_with_allow(local_stack, method) -> None:
    # Given a path the API serves (GET and POST) and a method it does not
    # When the method is sent
    status, headers, body = _raw(local_stack, _request(method, "/learners"))
    # Then 405 with the methods to use, and (but for HEAD) the contract's body
    assert status == 405, (status, body[:300])
    assert set(headers["allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
    if method != "HEAD":
        assert _contract_body(status, headers, body)["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("method", ["GET", "POST", "TRACE", "OPTIONS"])
def test_an_unknown_path_is_a_404_in_the_contract_shape(local_stack, method) -> None:
    # Given a path no route has, When any method asks for it
    status, headers, body = _raw(local_stack, _request(method, "/no/such/route"))
    # Then 404 NOT_FOUND, before any token check
    assert status == 404
    assert _contract_body(status, headers, body)["code"] == "NOT_FOUND"


def test_a_cors_preflight_of_a_known_path_still_answers(local_stack) -> None:
    status, headers, _ = _raw(local_stack, _request("OPTIONS", "/learners", {"Origin": "http://x.example"}))
    assert status == 200 and "access-control-allow-origin" in headers


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=x"],
)
@pytest.mark.parametrize("path", ["/learners", "/agencies", "/facilities"])
def test_a_body_that_is_not_json_is_a_415(local_stack, id_token, path, content_type) -> None:
    # Given a signed-in SystemAdmin's POST with a body declared as something other than UTF-8 JSON
    user = next(s["username"] for s in local_stack["staff"] if s["role"] == "SystemAdmin")
    headers = {"Authorization": f"Bearer {id_token(local_stack, user)}", "Content-Type": content_type}
    # When it is sent
    status, answer_headers, body = _raw(local_stack, _request("POST", path, headers, b'{"name": "X"}'))
    # Then 415 UNSUPPORTED_MEDIA_TYPE (a multipart type without a boundary was a 502)
    assert status == 415
    assert _contract_body(status, answer_headers, body)["code"] == "UNSUPPORTED_MEDIA_TYPE"


@pytest.mark.parametrize(
    ("name", "request_bytes", "statuses"),
    [
        ("a Content-Length that is not a number", _request("POST", "/learners", {"Content-Length": "abc"}), {400}),
        ("a negative Content-Length", _request("POST", "/learners", {"Content-Length": "-5"}), {400}),
        ("two Content-Lengths", _request("POST", "/learners", {"Content-Length": "2, 3"}), {400}),
        ("a chunked body", _request("POST", "/learners", {"Transfer-Encoding": "chunked"}, b"0\r\n\r\n"), {411}),
        ("a header line of 70 KB", _request("GET", "/health", {"X-Big": "a" * 70_000}), {431}),
        ("200 headers", _request("GET", "/health", {f"X-H{i}": "v" for i in range(200)}), {431}),
        ("a request line of 70 KB", _request("GET", "/" + "a" * 70_000), {414}),
        ("an HTTP version that is not one", b"GET /health HTTP/x.y\r\nConnection: close\r\n\r\n", {400}),
        ("HTTP/2.0 over HTTP/1", b"GET /health HTTP/2.0\r\nConnection: close\r\n\r\n", {400}),
        ("a body over 10 MB", _request("POST", "/learners", {"Content-Length": str(11 * 1024 * 1024)}), {413}),
    ],
)
def test_a_broken_request_gets_the_contract_body(local_stack, name, request_bytes, statuses) -> None:
    # Given a request the gateway would not pass on, When it is sent
    status, headers, body = _raw(local_stack, request_bytes)
    # Then a 4xx with the contract's body, not http.server's HTML page or a dropped connection
    assert status in statuses, (name, status, body[:300])
    _contract_body(status, headers, body)


@pytest.mark.parametrize(("body", "what"), [(b"{not json", "invalid JSON"), (b"\xff\xfe{}", "invalid UTF-8")])
def test_a_body_that_cannot_be_read_is_a_400(local_stack, id_token, body, what) -> None:
    user = next(s["username"] for s in local_stack["staff"] if s["role"] == "SystemAdmin")
    headers = {"Authorization": f"Bearer {id_token(local_stack, user)}", "Content-Type": "application/json"}
    status, answer_headers, answer = _raw(local_stack, _request("POST", "/learners", headers, body))
    assert status == 400, (what, answer[:300])
    assert _contract_body(status, answer_headers, answer)["code"] == "VALIDATION_FAILED"


def test_no_token_is_a_401_in_the_contract_shape(local_stack) -> None:
    status, headers, body = _raw(local_stack, _request("GET", "/facilities"))
    assert status == 401 and _contract_body(status, headers, body)["code"] == "UNAUTHENTICATED"
