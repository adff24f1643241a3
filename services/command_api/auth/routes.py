"""Logins for people (listmonk's ``cmd/auth.go``, ``cmd/users.go``; docs/logins.md):
``POST /admin/login`` (form), ``POST /admin/login/twofa`` (the TOTP step), ``POST
/api/logout``, ``PUT``/``DELETE /api/users/:id/twofa``.

Order of checks for a login: same-origin and the form's ``nonce`` (CSRF), the fields, the
throttle (429 before any password is checked), the password (argon2, off the event loop, an
unknown user costs the same), then the command: a session row and ``user.logged_in`` in one
transaction, and the ``session`` cookie with a 302 to ``next``. A user with TOTP gets a 302 to
the 2FA page with a pending token instead (listmonk's flow), and the session only after it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

import structlog
from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from events.crypto import master_key_from
from events.validation import InvalidText, check_line
from kernel.errors import DomainError, Forbidden, InvalidInput
from services.auth import sessions, throttle
from services.auth.guard import current_user, require_auth
from services.auth.login_page import refused_login, refused_twofa
from services.auth.passwords import hash_password, needs_rehash, verify_password_or_dummy
from services.auth.sessions import (
    INVALID_REQUEST,
    NONCE_COOKIE,
    TOKEN_LENGTH,
    TWOFA_TTL,
    LoginCandidate,
    expired_session_cookie,
    new_token,
    nonce_matches,
    safe_next,
    same_origin,
    session_cookie,
)
from services.auth.totp import normalise_secret, twofa_state, valid_code
from services.command_api.auth import handlers
from services.command_api.auth.decider import NOT_ENABLED
from services.command_api.context import command_context
from services.command_api.executor import CommandOutcome, execute_handler
from services.http.binding import form_values
from services.http.errors import error_response
from services.http.params import path_id
from services.runtime import Runtime

log = structlog.get_logger(__name__)

MAX_LEN = 2000  # listmonk's stdInputMaxLen
ADMIN = "/admin"


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _master(runtime: Runtime) -> bytes | None:
    return master_key_from(runtime.settings.master_key)


def _line(value: str, field: str, low: int, high: int = MAX_LEN) -> str:
    """listmonk's ``strHasLen`` on a value that also passes the validation boundary."""
    try:
        check_line(value, field, None)
    except InvalidText:
        raise InvalidInput(f"Invalid fields: {field}") from None
    if not low <= len(value) <= high:
        raise InvalidInput(f"Invalid fields: {field}")
    return value


async def _values(request: Request[Any, Any, Any], fields: tuple[str, ...]) -> dict[str, str]:
    await request.body()  # cached before the form is parsed (the command context reads it)
    return await form_values(request, fields, _text)


async def _run(request: Request[Any, Any, Any], runtime: Runtime, actor: str,
               handler: Any) -> CommandOutcome:
    """Run a login command as ``actor`` (never answered from an idempotency record: its
    answer carries a new session)."""
    ctx = replace(await command_context(request), actor=actor, idempotency_key="",
                  fingerprint="")
    outcome = await execute_handler(runtime.pool, ctx, handler, ports=handlers.LOGINS,
                                    master_key=_master(runtime))
    if outcome.appended:
        runtime.metrics.observe_append(outcome.appended)
    return outcome


async def _check_password(runtime: Runtime, username: str, password: str
                          ) -> LoginCandidate | None:
    """The user if ``password`` is its login password (enabled, password login, a person)."""
    async with runtime.pool.connection() as conn:
        user = await sessions.login_candidate(conn, username)
    stored = user.password_hash if user is not None and user.may_log_in else None
    ok = await asyncio.to_thread(verify_password_or_dummy, stored, password)
    return user if ok else None


def _logged_in(runtime: Runtime, token: str, next_uri: str) -> Redirect:
    return Redirect(next_uri, status_code=302,
                    cookies=[session_cookie(token, runtime.settings.root_url)])


@post("/admin/login", operation_id="login", status_code=302, request_max_body_size=65_536)
async def login(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                ) -> Response[Any]:
    """listmonk's ``LoginPage`` POST: a session cookie and a redirect to ``next``, or the form
    again with the reason (``{"message": ...}`` for a client asking for JSON)."""
    root_url = runtime.settings.root_url
    values = await _values(request, ("username", "password", "nonce", "next"))
    next_uri = safe_next(values.get("next"))

    def refuse(status: int, message: str, headers: dict[str, str] | None = None
               ) -> Response[Any]:
        return refused_login(request, status=status, message=message, next_uri=next_uri,
                             root_url=root_url, headers=headers)

    if not same_origin(request.headers, root_url) or not nonce_matches(
            request.cookies.get(NONCE_COOKIE), values.get("nonce")):
        return refuse(403, INVALID_REQUEST)
    try:
        username = _line(values.get("username", "").strip(), "username", 3)
        password = _line(values.get("password", "").strip(), "password", 8)
    except InvalidInput as exc:
        return refuse(400, exc.message)
    keys = throttle.keys_for(username, throttle.client_address(request.scope, request.headers))
    try:
        await throttle.check(runtime.pool, keys)
    except throttle.Throttled as exc:
        log.info("login_throttled", retry_after=exc.retry_after)
        return refuse(429, exc.message, throttle.retry_headers(exc))
    user = await _check_password(runtime, username, password)
    if user is None:
        await throttle.failed(runtime.pool, keys)
        log.info("login_failed")
        return refuse(403, handlers.INVALID_LOGIN)
    await throttle.succeeded(runtime.pool, keys)
    if user.twofa_type == "totp":
        pending = new_token()
        async with runtime.pool.connection() as conn:
            await sessions.insert(conn, pending, user.user_id, "twofa", _now() + TWOFA_TTL)
        return Redirect(f"{ADMIN}/login/twofa?token={pending}&next={quote(next_uri, safe='')}",
                        status_code=302)
    new_hash = (await asyncio.to_thread(hash_password, password)
                if needs_rehash(user.password_hash) else None)
    token = new_token()
    try:
        await _run(request, runtime, user.username, partial(handlers.log_in, handlers.LogIn(
            user_id=user.user_id, token=token, at=_now(), verified_hash=user.password_hash,
            new_hash=new_hash)))
    except DomainError as exc:  # changed or disabled since the check
        return refuse(exc.status_code, exc.message)
    log.info("login", user_id=user.user_id)
    return _logged_in(runtime, token, next_uri)


@post("/admin/login/twofa", operation_id="loginTwofa", status_code=302,
      request_max_body_size=65_536)
async def login_twofa(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                      ) -> Response[Any]:
    """listmonk's ``TwofaPage`` POST: the TOTP code completes a pending login."""
    values = await _values(request, ("token", "totp_code", "next"))
    token = values.get("token", "").strip()
    next_uri = safe_next(values.get("next"))
    if len(token) < TOKEN_LENGTH or len(token) > 2 * TOKEN_LENGTH:
        return Redirect(ADMIN, status_code=302)
    async with runtime.pool.connection() as conn:
        user_id = await sessions.pending_user(conn, token)
        user = await sessions.candidate_by_id(conn, user_id) if user_id is not None else None
    if user is None:
        return Redirect(ADMIN, status_code=302)

    def refuse(status: int, message: str, headers: dict[str, str] | None = None
               ) -> Response[Any]:
        return refused_twofa(request, status=status, message=message, token=token,
                             next_uri=next_uri, headers=headers)

    if not same_origin(request.headers, runtime.settings.root_url):
        return refuse(403, INVALID_REQUEST)
    code = values.get("totp_code", "").strip()
    if not valid_code(code):
        return refuse(400, handlers.INVALID_VALUE)
    keys = throttle.keys_for(user.username,
                             throttle.client_address(request.scope, request.headers))
    try:
        await throttle.check(runtime.pool, keys)
    except throttle.Throttled as exc:
        return refuse(429, exc.message, throttle.retry_headers(exc))
    session = new_token()
    try:
        await _run(request, runtime, user.username, partial(handlers.log_in, handlers.LogIn(
            user_id=user.user_id, token=session, at=_now(), pending=token, code=code)))
    except handlers.WrongCode as exc:
        await throttle.failed(runtime.pool, keys)
        log.info("login_twofa_failed", user_id=user.user_id)
        return refuse(403, exc.message)
    except DomainError as exc:
        return refuse(exc.status_code, exc.message)
    await throttle.succeeded(runtime.pool, keys)
    log.info("login", user_id=user.user_id, twofa=True)
    return _logged_in(runtime, session, next_uri)


@post("/api/logout", guards=[require_auth], operation_id="logout", status_code=200)
async def logout(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                 ) -> Response[Any]:
    """Ends the request's login session in PostgreSQL (refused from then on in every
    process) and expires the cookie. A call with an API token has no session to end."""
    session_hash = getattr(request.state, "session_hash", None)
    if session_hash:
        async with runtime.pool.connection() as conn:
            await sessions.delete(conn, str(session_hash))
    return Response(content={"data": True}, status_code=200, media_type="application/json",
                    cookies=[expired_session_cookie(runtime.settings.root_url)])


def _caller_id(request: Request[Any, Any, Any], user_id: str) -> int:
    """The user 2FA changes apply to: the caller, as listmonk (which ignores ``:id``)."""
    path_id(user_id)
    me = current_user(request)
    if me.user_id <= 0:  # the environment's admin has no stored user
        raise InvalidInput(handlers.INVALID_FEATURE)
    return me.user_id


@put("/api/users/{user_id:str}/twofa", guards=[require_auth], operation_id="enableTwofa",
     status_code=200)
async def enable_twofa(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                       user_id: FromPath[str]) -> Response[Any]:
    """listmonk's ``EnableTOTP``: ``secret`` (from ``GET .../twofa/totp``) and a ``code`` of it."""
    target = _caller_id(request, user_id)
    values = await _values(request, ("secret", "code"))
    raw_secret, code = values.get("secret", "").strip(), values.get("code", "").strip()
    if not raw_secret:
        raise InvalidInput("Invalid fields: secret")
    if not code:
        raise InvalidInput("Invalid fields: code")
    secret = normalise_secret(raw_secret[:MAX_LEN])
    if secret is None:
        raise InvalidInput("Invalid fields: secret")
    if not valid_code(code):
        raise InvalidInput(handlers.INVALID_TOTP)
    await _run(request, runtime, current_user(request).username, partial(
        handlers.enable_twofa, handlers.TwofaChange(user_id=target, at=_now(), secret=secret,
                                                    code=code)))
    return Response(content={"data": True}, status_code=200, media_type="application/json")


@delete("/api/users/{user_id:str}/twofa", guards=[require_auth], operation_id="disableTwofa",
        status_code=200)
async def disable_twofa(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                        user_id: FromPath[str]) -> Response[Any]:
    """listmonk's ``DisableTOTP``: the caller's password turns TOTP off (a wrong one is 403
    and counts toward the login throttle)."""
    target = _caller_id(request, user_id)
    me = current_user(request)
    values = await _values(request, ("password",))
    async with runtime.pool.connection() as conn:
        user = await sessions.candidate_by_id(conn, target)
        state = await _twofa_type(conn, target)
    if user is None or state != "totp":
        raise InvalidInput(NOT_ENABLED)
    password = _line(values.get("password", ""), "password", 8)
    keys = throttle.keys_for(me.username,
                             throttle.client_address(request.scope, request.headers))
    try:
        await throttle.check(runtime.pool, keys)
    except throttle.Throttled as exc:
        return error_response(429, exc.message, throttle.retry_headers(exc))
    if not await asyncio.to_thread(verify_password_or_dummy, user.password_hash, password):
        await throttle.failed(runtime.pool, keys)
        raise Forbidden(handlers.INVALID_PASSWORD)
    await _run(request, runtime, me.username, partial(
        handlers.disable_twofa, handlers.TwofaChange(user_id=target, at=_now(),
                                                     verified_hash=user.password_hash)))
    return Response(content={"data": True}, status_code=200, media_type="application/json")


async def _twofa_type(conn: Any, user_id: int) -> str:
    state = await twofa_state(conn, user_id)
    return "none" if state is None else state.twofa_type
