"""What the staff web page needs from the server: its sign-in settings and the origins it may talk to."""

from __future__ import annotations

from urllib.parse import urlsplit

from intake import upload_service
from intake.settings import get_settings


def cognito_endpoint() -> str:
    """Where the browser calls the user pool's API (InitiateAuth); the embedded AWS when there is one."""
    settings = get_settings()
    if settings.aws_endpoint_url:
        return settings.aws_endpoint_url.rstrip("/") + "/"
    return f"https://cognito-idp.{settings.region}.amazonaws.com/"


def client_config() -> dict[str, str]:
    """The public settings the page signs in with (no secret: the app client has none)."""
    settings = get_settings()
    return {
        "region": settings.region,
        "userPoolId": settings.user_pool_id,
        "userPoolClientId": settings.user_pool_client_id,
        "cognitoEndpoint": cognito_endpoint(),
        "authFlow": settings.web_auth_flow,
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy() -> str:
    """A strict policy: own scripts and styles only; fetches to the API, the user pool and the uploads bucket."""
    connect = " ".join(dict.fromkeys(["'self'", _origin(cognito_endpoint()), upload_service.link_origin()]))
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
