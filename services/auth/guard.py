"""Authentication as listmonk does it for API calls; every failure is a 403, never a 401.

Accepted ``Authorization`` headers: ``Basic base64(user:secret)``, ``token user:secret`` and
``Bearer user:secret``. The secret is an API user's token or the admin's password. The admin
from settings (``POSTLOG_ADMIN_USER``/``POSTLOG_ADMIN_PASSWORD``) is accepted even before
``ensure_admin`` has stored it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from kernel.errors import Forbidden
from kernel.settings import Settings
from services.auth.passwords import verify_secret_cached
from services.auth.users import stored_credentials
from services.runtime import Runtime

# listmonk's texts: no credentials at all falls through to its session check.
NO_CREDENTIALS = "invalid session"
FORBIDDEN = "invalid API credentials"


class MalformedAuthorization(Exception):
    """The header is not one of the accepted forms; the message says what is wrong."""


@dataclass(frozen=True)
class Credentials:
    username: str
    secret: str


def parse_authorization(header: str) -> Credentials:
    """``Basic b64(user:secret)``, ``token user:secret`` or ``Bearer user:secret``."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    kind = scheme.lower()
    if kind == "basic":
        try:
            value = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise MalformedAuthorization(
                "invalid Base64 value in Basic Authorization header"
            ) from None
    elif kind not in ("token", "bearer"):
        raise MalformedAuthorization("unknown Authorization scheme")
    user, sep, secret = value.partition(":")
    if not sep:
        raise MalformedAuthorization("api_key:token missing")
    if not user or not secret:
        raise MalformedAuthorization("empty `api_key` or `token`")
    return Credentials(user, secret)


def parse_credentials(header: str) -> tuple[str, str] | None:
    """``(user, secret)`` from a header, or None when it is malformed."""
    try:
        creds = parse_authorization(header)
    except MalformedAuthorization:
        return None
    return creds.username, creds.secret


def _equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def is_settings_admin(settings: Settings, creds: Credentials) -> bool:
    """The admin configured in the environment (checked without the database)."""
    if not settings.admin_password:
        return False
    user_ok = _equal(creds.username, settings.admin_user or "admin")
    password_ok = _equal(creds.secret, settings.admin_password)
    return user_ok and password_ok


async def authenticate(runtime: Runtime, header: str | None) -> str:
    """Return the user name for valid credentials, else raise a 403 ``Forbidden``."""
    if not header or not header.strip():
        raise Forbidden(NO_CREDENTIALS)
    try:
        creds = parse_authorization(header)
    except MalformedAuthorization as exc:
        raise Forbidden(str(exc)) from None
    if is_settings_admin(runtime.settings, creds):
        return creds.username
    async with runtime.pool.connection() as conn:
        stored = await stored_credentials(conn, creds.username)
    if stored is None or not stored.enabled:
        raise Forbidden(FORBIDDEN)
    if not await verify_secret_cached(stored.password_hash, creds.secret):
        raise Forbidden(FORBIDDEN)
    return stored.username


async def require_auth(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Route guard for every authenticated endpoint; stores the actor in ``connection.state``."""
    runtime = connection.app.state.runtime
    connection.state.actor = await authenticate(runtime, connection.headers.get("authorization"))
