"""GET routes of logins (listmonk's ``cmd/auth.go``; docs/logins.md): the login page, the
TOTP step's page, and a fresh TOTP secret with its QR code for 2FA set-up. Nothing here
writes: the secret is stored only when ``PUT /api/users/:id/twofa`` proves it was set up."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect
from psycopg.rows import tuple_row

from kernel.errors import InvalidInput
from services.auth import sessions, totp
from services.auth.guard import current_user, require_auth
from services.auth.login_page import login_page, twofa_page
from services.http.params import path_id
from services.runtime import Runtime

ADMIN = "/admin"
ALREADY_ENABLED = "Two-factor authentication is already enabled."
INVALID_FEATURE = "That feature is not available."


@get("/admin/login", operation_id="loginPage", status_code=200)
async def login_form(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                     ) -> Response[Any]:
    """The login form, with a fresh ``nonce`` cookie and field (CSRF)."""
    return login_page(next_uri=sessions.safe_next(request.query_params.get("next")),
                      root_url=runtime.settings.root_url)


@get("/admin/login/twofa", operation_id="loginTwofaPage", status_code=200)
async def twofa_form(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                     ) -> Response[Any]:
    """The TOTP code form of a pending login; without a live token, back to ``/admin``."""
    token = (request.query_params.get("token") or "").strip()
    next_uri = sessions.safe_next(request.query_params.get("next"))
    if not sessions.TOKEN_LENGTH <= len(token) <= 2 * sessions.TOKEN_LENGTH:
        return Redirect(ADMIN, status_code=302)
    async with runtime.pool.connection() as conn:
        user_id = await sessions.pending_user(conn, token)
    if user_id is None:
        return Redirect(ADMIN, status_code=302)
    return twofa_page(token=token, next_uri=next_uri)


async def _account_name(runtime: Runtime, user_id: int, username: str) -> str:
    """The caller's e-mail (listmonk labels the key with it), else its username."""
    async with runtime.read_pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT email FROM readmodel.users WHERE id = %s", (user_id,))
        row = await cur.fetchone()
    return str(row[0]) if row is not None and row[0] else username


@get("/api/users/{user_id:str}/twofa/totp", guards=[require_auth],
     operation_id="generateTotp", status_code=200)
async def generate_totp(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                        user_id: FromPath[str]) -> Response[Any]:
    """listmonk's ``GenerateTOTPQR`` for the caller (``:id`` is not used, as in listmonk):
    ``{"secret": base32, "qr": base64 PNG}``; 400 when TOTP is on already."""
    path_id(user_id)
    me = current_user(request)
    if me.user_id <= 0:  # the environment's admin has no stored user
        raise InvalidInput(INVALID_FEATURE)
    async with runtime.pool.connection() as conn:
        state = await totp.twofa_state(conn, me.user_id)
    if state is None:
        raise InvalidInput(INVALID_FEATURE)
    if state.twofa_type == "totp":
        raise InvalidInput(ALREADY_ENABLED)
    secret = totp.new_secret()
    issuer = (await runtime.live_settings.get()).app_site_name or "listmonk"
    account = await _account_name(runtime, me.user_id, me.username)
    qr = totp.qr_png_base64(totp.provisioning_uri(secret, account, issuer))
    return Response(content={"data": {"secret": secret, "qr": qr}}, status_code=200,
                    media_type="application/json",
                    headers={"Cache-Control": "no-store"})
