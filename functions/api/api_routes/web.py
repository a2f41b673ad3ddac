"""The staff web page and the interactive API docs: files shipped with the function, served without a token."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from api_routes import web_content
from intake.errors import NotFound

router = Router()

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
HTML = "text/html; charset=utf-8"
# Only these names are served: no path from the request ever reaches the file system.
OWN_ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    # Cognito's own browser SDK (npm amazon-cognito-identity-js, pinned in package-lock.json): SRP sign-in and MFA
    "amazon-cognito-identity.min.js": "text/javascript; charset=utf-8",
}
SWAGGER_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
PAGES = {"/": "index.html", "/docs": "docs.html"}
# Pages are small and name their assets by content hash, so assets may be cached for long and pages not at all.
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    """A file as it is served."""

    body: str
    content_type: str


@lru_cache(maxsize=1)
def _swagger_root() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


@lru_cache(maxsize=8)
def asset(name: str) -> Asset:
    """One static file by its public name; NotFound for any other name."""
    if name in OWN_ASSETS:
        return Asset((WEB_ROOT / name).read_text(encoding="utf-8"), OWN_ASSETS[name])
    if name in SWAGGER_ASSETS:
        return Asset((_swagger_root() / name).read_text(encoding="utf-8"), SWAGGER_ASSETS[name])
    raise NotFound("No such file")


@lru_cache(maxsize=1)
def assets_version() -> str:
    """A short hash of every served asset: pages add it to asset links so a new release is fetched at once."""
    digest = hashlib.sha256()
    for name in sorted({**OWN_ASSETS, **SWAGGER_ASSETS}):
        digest.update(asset(name).body.encode("utf-8"))
    return digest.hexdigest()[:12]


@lru_cache(maxsize=2)
def page(name: str) -> str:
    """A page with its asset links versioned."""
    return (WEB_ROOT / name).read_text(encoding="utf-8").replace("{{version}}", assets_version())


def _security_headers(cache: str) -> dict[str, str]:
    return {
        "Cache-Control": cache,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


def _page_response(path: str) -> Response[str]:
    event = router.current_event
    assert isinstance(event, APIGatewayProxyEvent)
    # Behind API Gateway the page lives under its stage (/prod/): without the slash, relative links would miss it.
    public_path = event.request_context.path or path
    if path == "/" and not public_path.endswith("/"):
        return Response(
            status_code=301,
            content_type=HTML,
            body="",
            headers={"Location": public_path + "/", "Cache-Control": PAGE_CACHE},
        )
    headers = _security_headers(PAGE_CACHE)
    headers["Content-Security-Policy"] = web_content.content_security_policy()
    return Response(status_code=200, content_type=HTML, body=page(PAGES[path]), headers=headers)


@router.get("/", include_in_schema=False)
def staff_page() -> Response[str]:
    return _page_response("/")


@router.get("/docs", include_in_schema=False)
def api_docs() -> Response[str]:
    return _page_response("/docs")


@router.get("/static/<file>", include_in_schema=False)
def static_file(file: str) -> Response[str]:
    found = asset(file)
    return Response(
        status_code=200,
        content_type=found.content_type,
        body=found.body,
        headers=_security_headers(ASSET_CACHE),
    )


@router.get("/client-config", include_in_schema=False)
def client_config() -> Response[dict[str, str]]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=web_content.client_config(),
        headers={"Cache-Control": "no-store"},
    )
