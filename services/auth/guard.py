"""Authentication as listmonk does it for API calls; every failure is a 403, never a 401.

A request without an ``Authorization`` header may carry a login session (the ``session``
cookie of ``POST /admin/login``, ``sessions.py``); with both, the header decides.

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
from services.auth.permissions import ACCESS_OPT, Access
from services.auth.principal import PERMISSION_DENIED, Principal, super_admin
from services.auth.sessions import (
    INVALID_REQUEST,
    SAFE_METHODS,
    SESSION_COOKIE,
    same_origin,
    token_hash,
)
from services.auth.users import StoredCredentials, session_credentials, stored_credentials
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


async def authenticate_user(runtime: Runtime, header: str | None) -> Principal:
    """The caller for valid credentials of an enabled user, else a 403 ``Forbidden``.

    Reads the credential and role indexes on every request (no cache), so a disabled or
    deleted user, or a changed role, is in force on the very next request in every process.
    """
    if not header or not header.strip():
        raise Forbidden(NO_CREDENTIALS)
    try:
        creds = parse_authorization(header)
    except MalformedAuthorization as exc:
        raise Forbidden(str(exc)) from None
    if is_settings_admin(runtime.settings, creds):
        return super_admin(creds.username)
    async with runtime.pool.connection() as conn:
        stored = await stored_credentials(conn, creds.username)
    if stored is None or not stored.enabled:
        raise Forbidden(FORBIDDEN)
    if not await verify_secret_cached(stored.password_hash, creds.secret):
        raise Forbidden(FORBIDDEN)
    return _principal(stored)


def _principal(stored: StoredCredentials) -> Principal:
    return Principal(user_id=stored.user_id, username=stored.username,
                     user_type=stored.user_type, user_role_id=stored.user_role_id,
                     permissions=stored.permissions, list_role_id=stored.list_role_id,
                     list_grants=stored.list_grants)


_MAX_COOKIE = 256


async def authenticate_session(runtime: Runtime, token: str) -> Principal:
    """The user of a live login session (``session`` cookie, docs/logins.md), read from
    PostgreSQL on every request: a logout, a disabled user or a new password is in force at
    once in every process. Else listmonk's 403 ``invalid session``."""
    if not token or len(token) > _MAX_COOKIE:
        raise Forbidden(NO_CREDENTIALS)
    async with runtime.pool.connection() as conn:
        stored = await session_credentials(conn, token_hash(token))
    if stored is None:
        raise Forbidden(NO_CREDENTIALS)
    return _principal(stored)


async def authenticate(runtime: Runtime, header: str | None) -> str:
    """Return the user name for valid credentials, else raise a 403 ``Forbidden``."""
    return (await authenticate_user(runtime, header)).username


def authorize(user: Principal, access: Access | None) -> None:
    """403 unless ``user`` may call a route with ``access`` (listmonk's ``auth.Perm``: any one
    of the permissions). A route without a known ``Access`` is for the Super Admin only
    (fail closed). Routes reached through list roles (``Access.by_list_role``) are checked per
    list by their handlers."""
    if user.super_admin:
        return
    if access is None:
        raise Forbidden(PERMISSION_DENIED)
    if not access.permissions or access.by_list_role:
        return
    if not user.has_any(access.permissions):
        raise Forbidden(f"{PERMISSION_DENIED}: {access.permissions[-1]}")


async def require_auth(connection: ASGIConnection[Any, Any, Any, Any],
                       handler: BaseRouteHandler) -> None:
    """Route guard for every authenticated endpoint: authenticates, enforces the route's
    ``Access`` (from its route table) and stores the caller in ``connection.state`` (``user``,
    and its name as ``actor``)."""
    runtime = connection.app.state.runtime
    header = connection.headers.get("authorization")
    token = connection.cookies.get(SESSION_COOKIE)
    if (not header or not header.strip()) and token is not None:
        # A browser's login session: an unsafe method must come from this site (CSRF).
        user = await authenticate_session(runtime, token)
        method = str(connection.scope.get("method", "GET")).upper()
        if method not in SAFE_METHODS and not same_origin(connection.headers,
                                                          runtime.settings.root_url):
            raise Forbidden(INVALID_REQUEST)
        connection.state.session_hash = token_hash(token)
    else:
        user = await authenticate_user(runtime, header)
    connection.state.user = user
    connection.state.actor = user.username
    authorize(user, handler.opt.get(ACCESS_OPT))


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller ``require_auth`` authenticated for this request."""
    user = connection.state.get("user") if hasattr(connection.state, "get") else None
    if not isinstance(user, Principal):
        user = getattr(connection.state, "user", None)
    if not isinstance(user, Principal):
        raise Forbidden(NO_CREDENTIALS)
    return user
