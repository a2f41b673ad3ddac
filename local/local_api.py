"""The API over local HTTP: API Gateway's Cognito authorizer and REST proxy event in front of api_handler."""

from __future__ import annotations

import base64
import fnmatch
import importlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt

from local.resources import FunctionConfig
from local.template import TEMPLATE_PATH, load_template
from local.token_endpoint import TOKEN_PATH, TokenEndpoint

log = logging.getLogger("local.local_api")

API_FUNCTION_ID = "ApiFunction"
STAGE = "local"
_UNAUTHORIZED = {"code": "UNAUTHENTICATED", "message": "Unauthorized"}
# API Gateway's ACCESS_DENIED gateway response (template.yaml maps it to 403 PERMISSION_DENIED): a valid token of the
# pool that lacks the route's scope
_SCOPE_DENIED = {"code": "PERMISSION_DENIED", "message": "User is not authorized to access this resource"}
# API Gateway's payload limit is 10 MB; its answers to a broken request, as the contract's codes.
MAX_BODY_BYTES = 10 * 1024 * 1024
SOCKET_TIMEOUT_SECONDS = 30
_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    411: "LENGTH_REQUIRED",
    413: "TOO_LARGE",
    414: "URI_TOO_LONG",
    431: "HEADERS_TOO_LARGE",
}
_HOP_BY_HOP = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})


@dataclass
class LocalLambdaContext:
    """What Lambda passes as `context`, enough for Powertools (logger, metrics) and remaining-time checks."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's timeout."""
        return max(0, int((self._started + self.timeout_seconds - time.monotonic()) * 1000))


def lambda_context(function: FunctionConfig, region: str, account_id: str) -> LocalLambdaContext:
    """A fresh context for one invocation of a template function."""
    return LocalLambdaContext(
        function_name=function.function_name,
        memory_limit_in_mb=function.memory_mb,
        invoked_function_arn=f"arn:aws:lambda:{region}:{account_id}:function:{function.function_name}",
        aws_request_id=str(uuid.uuid4()),
        timeout_seconds=function.timeout_seconds,
        log_group_name=f"/aws/lambda/{function.function_name}",
    )


@dataclass(frozen=True)
class Route:
    """One `Type: Api` event of the API function."""

    method: str
    path: str
    authorized: bool
    pattern: re.Pattern[str]
    # Auth.AuthorizationScopes: API Gateway then takes an access token carrying one of them, and nothing else
    scopes: tuple[str, ...] = ()

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if method and path match this route, else None."""
        if method != self.method and self.method != "ANY":
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


def api_routes(function_id: str = API_FUNCTION_ID, template_path: Path = TEMPLATE_PATH) -> list[Route]:
    """The API function's routes, static paths first (as API Gateway prefers them over path parameters)."""
    function = load_template(template_path)["Resources"][function_id]
    routes = []
    for event in function.get("Properties", {}).get("Events", {}).values():
        if event.get("Type") != "Api":
            continue
        props = event["Properties"]
        path = str(props["Path"])
        authorizer = props.get("Auth", {}).get("Authorizer")
        routes.append(
            Route(
                method=str(props["Method"]).upper(),
                path=path,
                authorized=authorizer != "NONE",
                pattern=re.compile(_path_regex(path)),
                scopes=tuple(str(scope) for scope in props.get("Auth", {}).get("AuthorizationScopes", [])),
            )
        )
    return sorted(routes, key=lambda r: (r.path.count("{"), r.path))


def _path_regex(path: str) -> str:
    parts = re.split(r"(\{[^}]+\})", path)
    regex = ""
    for part in parts:
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            regex += f"(?P<{name[:-1]}>.+)" if name.endswith("+") else f"(?P<{name}>[^/]+)"
        else:
            regex += re.escape(part)
    return regex


class TokenVerifier:
    """Checks a Cognito token as API Gateway's Cognito authorizer does: signature, iss, expiry, and then

    - on a route without scopes: an ID token (aud the staff client, token_use `id`); an access token of the pool
      passes too (token_use `access`, a client_id), for the function to refuse with 403. (Deployed, API Gateway
      refuses it itself with 401: docs/security.md);
    - on a route with AuthorizationScopes: a valid token of the pool is refused with 403 (the ACCESS_DENIED gateway
      response) unless it is an access token (token_use `access`, a client_id) whose `scope` names one of them.
    """

    def __init__(self, aws_endpoint: str, region: str, user_pool_id: str, client_id: str) -> None:
        self._jwks = jwt.PyJWKClient(f"{aws_endpoint.rstrip('/')}/{user_pool_id}/.well-known/jwks.json")
        self._issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self._client_id = client_id

    def claims(self, authorization: str | None) -> dict[str, str] | None:
        """The claims of a route without scopes as API Gateway passes them (strings), or None when refused (401)."""
        status, claims = self.verify(authorization, ())
        return claims if status is None else None

    def verify(self, authorization: str | None, scopes: tuple[str, ...]) -> tuple[int | None, dict[str, str] | None]:
        """(None, claims) when the route may run; (401 or 403, None) when the gateway refuses the request."""
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            return 401, None
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "iss", "token_use"], "verify_aud": False},
            )
        except (jwt.PyJWTError, ValueError) as error:
            log.info("token rejected: %s", type(error).__name__)
            return 401, None
        use = claims.get("token_use")
        access = use == "access" and bool(claims.get("client_id"))
        if scopes:
            granted = str(claims.get("scope") or "").split()
            if not access or not set(granted) & set(scopes):
                log.info("token refused: not an access token with the route's scope")
                return 403, None
        elif use == "id":
            if claims.get("aud") != self._client_id:
                log.info("token rejected: the ID token is for another client")
                return 401, None
        elif not access:
            log.info("token rejected: token_use is neither id nor access")
            return 401, None
        return None, {name: _claim_string(name, value) for name, value in claims.items()}


def _claim_string(name: str, value: Any) -> str:
    if name in {"exp", "iat", "auth_time"} and isinstance(value, int | float):
        # API Gateway (REST) renders the time claims as Java dates.
        return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass
class LocalApi:
    """Everything a request needs: routes, the token verifier, the handler and how to build its context."""

    routes: list[Route]
    verifier: TokenVerifier
    function: FunctionConfig
    region: str
    account_id: str
    cors_headers: dict[str, str]
    # Cognito's /oauth2/token (client credentials) for the tablet client, served at {apiUrl}/oauth2/token
    token_endpoint: TokenEndpoint | None = None
    # The API's BinaryMediaTypes: a base64 answer reaches the client as bytes only when its Accept names one of them.
    binary_media_types: tuple[str, ...] = field(default_factory=lambda: binary_media_types())
    # The Powertools resolver keeps the current event on the app: one invocation at a time, as in one Lambda sandbox.
    lock: threading.Lock = field(default_factory=threading.Lock)
    _handler: Handler | None = field(default=None, repr=False)

    def load_handler(self) -> Handler:
        """The function's handler, imported on first use (and again after a failed import)."""
        if self._handler is None:
            importlib.invalidate_caches()
            module = importlib.import_module(self.function.module)
            self._handler = getattr(module, self.function.attribute)
        return self._handler

    def respond(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Authenticate and invoke the handler; (status, header list, body bytes)."""
        split = urlsplit(raw_path)
        path = split.path or "/"
        if path == TOKEN_PATH and self.token_endpoint is not None:
            return self.token_endpoint.respond(method, headers, body)
        route, path_parameters = self._route(method, path)
        if route is None:
            return self._no_route(method, path)
        claims: dict[str, str] | None = None
        if route is not None and route.authorized:
            refused, claims = self.verifier.verify(_header(headers, "authorization"), route.scopes)
            if refused == 403:
                return error_answer(403, _SCOPE_DENIED["code"], _SCOPE_DENIED["message"], self.cors_headers)
            if refused is not None or claims is None:
                return error_answer(401, _UNAUTHORIZED["code"], _UNAUTHORIZED["message"], self.cors_headers)
        event = build_event(
            method=method,
            path=path,
            query=split.query,
            headers=headers,
            body=body,
            source_ip=source_ip,
            resource=route.path if route else path,
            path_parameters=path_parameters,
            claims=claims,
        )
        context = lambda_context(self.function, self.region, self.account_id)
        try:
            with self.lock:
                result = self.load_handler()(event, context)
        except Exception:
            log.exception("%s %s: the handler raised", method, path)
            return error_answer(502, "INTERNAL_ERROR", "Internal server error", self.cors_headers)
        return _response(result, self.binary_media_types, _header(headers, "accept"))

    def _no_route(self, method: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """What the gateway answers itself, before any authorizer, for a method or path no route has.

        A CORS preflight of a known path is answered; another method of a known path is 405 with `Allow`; an
        unknown path is 404. (Deployed, API Gateway answers both with its MISSING_AUTHENTICATION_TOKEN gateway
        response, which the template maps to 404 `{code, message}`.)"""
        allowed = sorted({route.method for route in self.routes if route.pattern.fullmatch(path)})
        if not allowed:
            return error_answer(404, "NOT_FOUND", "No such route", self.cors_headers)
        if method == "OPTIONS":
            return 200, list(self.cors_headers.items()), b""
        status, headers, body = error_answer(
            405,
            "METHOD_NOT_ALLOWED",
            f"{method} is not a method of {path}: use {', '.join(allowed)}",
            self.cors_headers,
        )
        return status, [*headers, ("Allow", ", ".join([*allowed, "OPTIONS"]))], body

    def _route(self, method: str, path: str) -> tuple[Route | None, dict[str, str] | None]:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params or None
        return None, None


def error_answer(
    status: int, code: str, message: str, cors: dict[str, str] | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """A gateway-level error with the contract's `{code, message}` body."""
    body = json.dumps({"code": code, "message": message}).encode()
    return status, [("Content-Type", "application/json"), *(cors or {}).items()], body


def build_event(
    *,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    resource: str,
    path_parameters: dict[str, str] | None,
    claims: dict[str, str] | None,
    stage: str = STAGE,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as Lambda receives it."""
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    pairs = parse_qsl(query, keep_blank_values=True)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in pairs:
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    text, is_base64 = _event_body(body)
    request_id = str(uuid.uuid4())
    now = time.time()
    request_context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": single_headers.get("Host", "127.0.0.1"),
        "httpMethod": method,
        "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "extendedRequestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": "local",
        "resourcePath": resource,
        "stage": stage,
        "identity": {"sourceIp": source_ip, "userAgent": single_headers.get("User-Agent", "")},
    }
    if claims is not None:
        request_context["authorizer"] = {"claims": claims}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": request_context,
        "body": text,
        "isBase64Encoded": is_base64,
    }


def _event_body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def answers_binary(binary_types: tuple[str, ...], accept: str | None) -> bool:
    """Whether API Gateway sends a base64 answer as bytes: the request's first Accept type is a binary media type."""
    first = (accept or "").split(",")[0].split(";")[0].strip().lower()
    return bool(first) and any(fnmatch.fnmatchcase(first, pattern.lower()) for pattern in binary_types)


def _response(
    result: dict[str, Any], binary_types: tuple[str, ...] = ("*/*",), accept: str | None = "*/*"
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP answer of a Lambda proxy result; a base64 body is decoded only as API Gateway would decode it
    (the request's first Accept type among the BinaryMediaTypes), else it goes out as the base64 text it is."""
    status = int(result.get("statusCode", 200))
    multi = {name: [str(v) for v in values] for name, values in (result.get("multiValueHeaders") or {}).items()}
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items() if name not in multi]
    headers += [(name, value) for name, values in multi.items() for value in values]
    headers = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
    raw = result.get("body") or ""
    binary = result.get("isBase64Encoded") and answers_binary(binary_types, accept)
    body = base64.b64decode(raw) if binary else str(raw).encode("utf-8")
    return status, headers, body


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def binary_media_types(template_path: Path = TEMPLATE_PATH) -> tuple[str, ...]:
    """The `AWS::Serverless::Api`'s BinaryMediaTypes, with SAM's `~1` read back as `/`."""
    template = load_template(template_path)
    apis = [r for r in template["Resources"].values() if r.get("Type") == "AWS::Serverless::Api"]
    types = apis[0].get("Properties", {}).get("BinaryMediaTypes", []) if apis else []
    return tuple(str(t).replace("~1", "/") for t in types)


def cors_headers(template_path: Path = TEMPLATE_PATH) -> dict[str, str]:
    """The API's CORS preflight answer, from the template's `AWS::Serverless::Api` Cors (parameter defaults)."""
    template = load_template(template_path)
    parameters = template.get("Parameters", {})
    apis = [r for r in template["Resources"].values() if r.get("Type") == "AWS::Serverless::Api"]
    cors = apis[0].get("Properties", {}).get("Cors", {}) if apis else {}
    names = {
        "AllowOrigin": "Access-Control-Allow-Origin",
        "AllowHeaders": "Access-Control-Allow-Headers",
        "AllowMethods": "Access-Control-Allow-Methods",
        "MaxAge": "Access-Control-Max-Age",
    }
    headers = {}
    for key, header in names.items():
        value = cors.get(key)
        if isinstance(value, dict) and "Fn::Sub" in value:
            value = re.sub(
                r"\$\{([^}]+)\}", lambda m: str(parameters.get(m.group(1), {}).get("Default", "")), value["Fn::Sub"]
            )
        if isinstance(value, str):
            headers[header] = value.strip("'")
    return headers


Answer = tuple[int, list[tuple[str, str]], bytes]


def read_body(headers: Any, stream: Any) -> tuple[bytes, Answer | None]:
    """The request body, or the 400/411/413 the gateway gives a request it would not pass on."""
    lengths = headers.get_all("Content-Length") or []
    if len(set(lengths)) > 1 or any(not value.strip().isdigit() for value in lengths):
        return b"", error_answer(400, "BAD_REQUEST", "Content-Length must be one non-negative integer")
    if headers.get("Transfer-Encoding"):
        return b"", error_answer(411, "LENGTH_REQUIRED", "Send the body with a Content-Length, not chunked")
    length = int(lengths[0]) if lengths else 0
    if length > MAX_BODY_BYTES:
        return b"", error_answer(413, "TOO_LARGE", f"A request body may be at most {MAX_BODY_BYTES} bytes")
    try:
        body = stream.read(length) if length else b""
    except TimeoutError:
        body = b""
    if len(body) < length:
        return b"", error_answer(400, "BAD_REQUEST", "The body is shorter than its Content-Length")
    return body, None


def make_request_handler(api: LocalApi) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one LocalApi."""

    class IntakeRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "IntakeLocalApi"
        timeout = SOCKET_TIMEOUT_SECONDS
        # TCP_NODELAY, as a real endpoint sets it: the status line and headers go out in one write and the body in
        # another, and with Nagle's algorithm on the body waits for the client's delayed ACK of the headers (~40 ms
        # on Linux) on every request of a kept-alive connection.
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            started = time.monotonic()
            body, refusal = read_body(self.headers, self.rfile)
            if refusal is not None:
                self.close_connection = True
                status, headers, payload = refusal
            else:
                status, headers, payload = api.respond(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            log.info(
                "%s %s -> %d (%d ms)",
                self.command,
                urlsplit(self.path).path,
                status,
                (time.monotonic() - started) * 1000,
            )

        def __getattr__(self, name: str) -> Any:
            # Every method goes to _handle, which answers unknown ones as the gateway does (405/404, not 501 HTML).
            if name.startswith("do_") and name[3:].isupper():
                return self._handle
            raise AttributeError(name)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """http.server's own refusals (bad request line, headers too long or too many...) in the contract's body."""
            code = 400 if code >= 500 else code  # an unsupported HTTP version is the client's error, never a 5xx
            self.request_version = self.protocol_version  # answer with a status line even to an unreadable one
            _, headers, payload = error_answer(code, _ERROR_CODES.get(code, "BAD_REQUEST"), message or "Bad request")
            self.close_connection = True
            try:
                self.send_response(code, message)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                    self.wfile.write(payload)
            except OSError:
                pass  # the client went away

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are logged once by _handle (path only: no query strings or bodies)."""

    return IntakeRequestHandler


class LocalApiServer(ThreadingHTTPServer):
    """A threading HTTP server whose listen backlog takes a burst of clients, as API Gateway does."""

    # socketserver's default backlog of 5 resets connections when 20 clients connect at once
    # while the accept loop waits for the GIL behind Argon2id hashing.
    request_queue_size = 128
    daemon_threads = True


def serve(api: LocalApi, port: int, host: str = "127.0.0.1") -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start serving the API in a background thread."""
    server = LocalApiServer((host, port), make_request_handler(api))
    thread = threading.Thread(target=server.serve_forever, name="local-api", daemon=True)
    thread.start()
    return server, thread
