"""Command routes of the users API (listmonk's ``cmd/users.go``): create, update, delete users
and the caller's profile. Validation as listmonk's; secrets are hashed here (off the event
loop for passwords) and never enter a command's result or an event."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.crypto import master_key_from
from events.users import UserStatus, UserType
from events.validation import check_line
from readmodels.users import fetch_user
from services.auth.guard import current_user, require_auth
from services.auth.passwords import generate_api_token, hash_password, hash_token
from services.command_api.context import command_context
from services.command_api.executor import execute_handler
from services.command_api.respond import answer, run_handler
from services.command_api.users import admin
from services.command_api.users.accounts import ACCOUNTS
from services.http.binding import bind_object, bool_field, int_field, string_field
from services.http.params import parse_ids, path_id
from services.runtime import Runtime

PROJECTIONS = ("users", "roles")
_FIELDS = ("username", "password", "password_login", "email", "name", "type", "status",
           "user_role_id", "list_role_id")
_USERNAME = re.compile(r"^[a-zA-Z0-9_\-.@]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_LEN = 2000


def _now() -> datetime:
    return datetime.now(UTC)


def _text(data: dict[str, Any], field: str) -> str:
    return check_line((string_field(data, field) or "").strip(), field, MAX_LEN)


def valid_email(email: str) -> bool:
    return 0 < len(email) <= MAX_LEN and bool(_EMAIL.match(email))


def _one_of(data: dict[str, Any], field: str, allowed: tuple[str, ...]) -> str:
    """One of ``allowed`` (the first when absent), else 400."""
    value = string_field(data, field) or allowed[0]
    if value not in allowed:
        raise admin.invalid(field)
    return value


async def bind_account(request: Request[Any, Any, Any], *, creating: bool
                       ) -> tuple[admin.AccountInput, str | None]:
    """The validated user of the body, and the API token to show (a new API user only)."""
    data = bind_object(await request.body(), _FIELDS)
    username = _text(data, "username")
    if not 3 <= len(username) <= MAX_LEN or not _USERNAME.match(username):
        raise admin.invalid("username")
    user_type: UserType = _one_of(data, "type", ("user", "api"))  # type: ignore[assignment]
    status: UserStatus = _one_of(data, "status", ("enabled", "disabled"))  # type: ignore[assignment]
    password_login = bool_field(data, "password_login") and user_type != "api"
    password = string_field(data, "password") or ""
    email = _text(data, "email").lower()
    token = None
    secret_hash = None
    if user_type == "api":
        email = f"{username}@api"
        if creating:
            token = generate_api_token()
            secret_hash = hash_token(token)
    else:
        if not valid_email(email):
            raise admin.invalid("email")
        if password_login and (password or creating):
            if not 8 <= len(password) <= MAX_LEN:
                raise admin.invalid("password")
            check_line(password, "password", MAX_LEN)
            secret_hash = await asyncio.to_thread(hash_password, password)
    role = int_field(data, "user_role_id") or 0
    list_role = int_field(data, "list_role_id")
    return admin.AccountInput(
        username=username, user_type=user_type, email=email,
        name=_text(data, "name") or username, password_login=password_login,
        secret_hash=secret_hash, status=status, user_role_id=role,
        list_role_id=list_role or None, at=_now()), token


@post("/api/users", guards=[require_auth], operation_id="createUser", status_code=200)
async def create_user(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                      ) -> Response[bytes]:
    """A new user; an API user's token is in ``password``, this once."""
    new, token = await bind_account(request, creating=True)
    ctx = await command_context(request)
    outcome = await execute_handler(runtime.pool, ctx, partial(admin.create_account, new),
                                    ports=ACCOUNTS, master_key=_master(runtime))
    user_id = int(outcome.result["user_id"])

    async def read() -> dict[str, Any] | None:
        found = await fetch_user(runtime.read_pool, user_id)
        if found is not None and token is not None:
            found = {**dict(list(found.items())[:4]), "password": token,
                     **dict(list(found.items())[4:])}
        return found

    # The token is shown once: the answer is never stored for an idempotent retry.
    ctx = replace(ctx, idempotency_key="") if token else ctx
    return await answer(runtime, ctx, outcome, PROJECTIONS, read)


def _master(runtime: Runtime) -> bytes | None:
    return master_key_from(runtime.settings.master_key)


@put("/api/users/{user_id:str}", guards=[require_auth], operation_id="updateUserByID",
     status_code=200)
async def update_user(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                      user_id: FromPath[str]) -> Response[bytes]:
    target = path_id(user_id)
    new, _ = await bind_account(request, creating=False)
    return await run_handler(request, runtime, partial(admin.update_account, target, new),
                             PROJECTIONS, lambda: fetch_user(runtime.read_pool, target),
                             ports=ACCOUNTS)


@delete("/api/users/{user_id:str}", guards=[require_auth], operation_id="deleteUserByID",
        status_code=200)
async def delete_user(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                      user_id: FromPath[str]) -> Response[bytes]:
    target = path_id(user_id)
    return await run_handler(request, runtime,
                             partial(admin.delete_accounts, [target], _now()), PROJECTIONS,
                             ports=ACCOUNTS)


@delete("/api/users", guards=[require_auth], operation_id="deleteUsers", status_code=200)
async def delete_users(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                       ) -> Response[bytes]:
    ids = parse_ids(request.query_params.getall("id", []))
    return await run_handler(request, runtime, partial(admin.delete_accounts, ids, _now()),
                             PROJECTIONS, ports=ACCOUNTS)


@put("/api/profile", guards=[require_auth], operation_id="updateUserProfile",
     status_code=200)
async def update_profile(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                         ) -> Response[bytes]:
    """The caller's name, e-mail and password (listmonk's ``UpdateUserProfile``)."""
    me = current_user(request)
    data = bind_object(await request.body(), ("name", "email", "password"))
    email = _text(data, "email").lower() or None
    if email is not None and not valid_email(email):
        raise admin.invalid("email")
    password = string_field(data, "password") or ""
    secret_hash = None
    if password:
        if not 8 <= len(password) <= MAX_LEN:
            raise admin.invalid("password")
        check_line(password, "password", MAX_LEN)
        secret_hash = await asyncio.to_thread(hash_password, password)
    name = _text(data, "name") or me.username
    return await run_handler(
        request, runtime,
        partial(admin.update_profile, me.user_id, name, email, secret_hash, _now()),
        PROJECTIONS, lambda: fetch_user(runtime.read_pool, me.user_id), ports=ACCOUNTS)
