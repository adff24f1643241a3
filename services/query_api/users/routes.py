"""GET routes of the users API: ``/api/users``, ``/api/users/:id``, ``/api/profile``."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.roles import PERMISSIONS, SUPER_ADMIN_ROLE_NAME
from readmodels.users import fetch_user, fetch_users
from services.auth.guard import current_user, require_auth
from services.http.errors import APIError
from services.http.params import path_id
from services.runtime import Runtime

USER_NOT_FOUND = "User not found"


@get("/api/users", guards=[require_auth], operation_id="getUsers")
async def get_users(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    return {"data": await fetch_users(runtime.read_pool)}


@get("/api/users/{user_id:str}", guards=[require_auth], operation_id="getUserByID")
async def get_user(user_id: FromPath[str], runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    found = await fetch_user(runtime.read_pool, path_id(user_id))
    if found is None:
        raise APIError(404, USER_NOT_FOUND)
    return {"data": found}


@get("/api/profile", guards=[require_auth], operation_id="getUserProfile")
async def get_profile(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                      ) -> dict[str, Any]:
    """The caller as ``GET /api/users/:id`` shows it. The admin of the environment, who has
    no row, is shown as the Super Admin it is."""
    me = current_user(request)
    found = await fetch_user(runtime.read_pool, me.user_id) if me.user_id else None
    if found is None:
        found = {"id": me.user_id, "created_at": None, "updated_at": None,
                 "username": me.username, "password_login": True, "email": None,
                 "name": me.username, "type": me.user_type, "status": "enabled",
                 "avatar": None, "twofa_type": "none", "loggedin_at": None,
                 "user_role": {"id": me.user_role_id, "name": SUPER_ADMIN_ROLE_NAME,
                               "permissions": list(PERMISSIONS)}, "list_role": None}
    return {"data": found}
