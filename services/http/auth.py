"""Authentication: listmonk's BasicAuth and ``token user:token`` headers; 403 when missing/bad."""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from postlog.runtime import Runtime
from services.http.errors import APIError

FORBIDDEN = "invalid API credentials"


def parse_credentials(header: str) -> tuple[str, str] | None:
    """``Basic b64(user:token)``, ``token user:token`` or ``Bearer user:token`` -> (user, secret)."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    scheme = scheme.lower()
    if scheme == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    elif scheme not in ("token", "bearer"):
        return None
    user, sep, secret = value.partition(":")
    if not sep or not user or not secret:
        return None
    return user, secret


async def authenticate(runtime: Runtime, header: str | None) -> str:
    """Return the user name for valid credentials, else raise 403."""
    if not header:
        raise APIError(403, FORBIDDEN)
    creds = parse_credentials(header)
    if creds is None:
        raise APIError(403, FORBIDDEN)
    user, secret = creds
    settings = runtime.settings
    if (
        settings.admin_user
        and settings.admin_password
        and hmac.compare_digest(user.encode(), settings.admin_user.encode())
        and hmac.compare_digest(secret.encode(), settings.admin_password.encode())
    ):
        return user
    raise APIError(403, FORBIDDEN)


async def require_auth(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Route guard for every authenticated endpoint; stores the actor in ``connection.state``."""
    runtime = connection.app.state.runtime
    connection.state.actor = await authenticate(runtime, connection.headers.get("authorization"))
