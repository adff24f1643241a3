"""Command routes of the roles API (listmonk's ``cmd/roles.go``): user roles and list roles.
Unknown permissions are a 400; role 1 (Super Admin) cannot be changed or deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.roles import LIST_PERMISSIONS, PERMISSIONS, ListGrant, RoleType
from events.validation import check_line
from kernel.errors import InvalidInput
from readmodels.roles import list_roles, user_roles
from services.auth.guard import require_auth
from services.command_api.respond import run_handler
from services.command_api.roles import handlers
from services.command_api.roles.decider import RoleValue
from services.command_api.users.accounts import ACCOUNTS
from services.http.binding import bind_object, int_field, string_field, string_list
from services.http.params import path_id
from services.runtime import Runtime

PROJECTIONS = ("roles",)
MAX_LEN = 2000


def _now() -> datetime:
    return datetime.now(UTC)


def invalid(what: str) -> InvalidInput:
    return InvalidInput(f"Invalid fields: {what}")


def _name(data: dict[str, Any]) -> str:
    name = (string_field(data, "name") or "").strip()
    if not 1 <= len(name) <= MAX_LEN:
        raise invalid("name")
    return check_line(name, "name", MAX_LEN)


async def bind_user_role(request: Request[Any, Any, Any]) -> RoleValue:
    data = bind_object(await request.body(), ("name", "permissions"))
    name = _name(data)
    permissions = string_list(data.get("permissions"), "pq.StringArray", "permissions") or []
    for p in permissions:
        if p not in PERMISSIONS:
            raise invalid(f"permission: {check_line(p, 'permission', MAX_LEN)}")
    return RoleValue(name=name, permissions=tuple(dict.fromkeys(permissions)))


async def bind_list_role(request: Request[Any, Any, Any]) -> RoleValue:
    data = bind_object(await request.body(), ("name", "lists"))
    name = _name(data)
    raw = data.get("lists") or []
    if not isinstance(raw, list) or len(raw) > 10_000:
        raise invalid("lists")
    grants: dict[int, ListGrant] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise invalid("lists")
        list_id = int_field(item, "id")
        perms = string_list(item.get("permissions"), "pq.StringArray", "permissions") or []
        for p in perms:
            if p not in LIST_PERMISSIONS:
                raise invalid(f"list permission: {check_line(p, 'permission', MAX_LEN)}")
        if not perms:
            continue  # listmonk skips lists without permissions
        if list_id is None or list_id < 1:
            raise invalid("lists")
        grants[list_id] = ListGrant(list_id=list_id, permissions=tuple(
            p for p in LIST_PERMISSIONS if p in perms))
    return RoleValue(name=name, lists=tuple(grants[k] for k in sorted(grants)))


async def _one(role_type: RoleType, runtime: Runtime, role_id: int) -> dict[str, Any] | None:
    found = await (user_roles if role_type == "user" else list_roles)(runtime.read_pool, role_id)
    return found[0] if found else None


async def _create(request: Request[Any, Any, Any], runtime: Runtime, role_type: RoleType,
                  value: RoleValue) -> Response[bytes]:
    holder: dict[str, int] = {}

    async def handler(store: Any, accounts: Any) -> dict[str, Any]:
        result = await handlers.create_role(role_type, value, _now(), store, accounts)
        holder["id"] = int(result["role_id"])
        return result

    return await run_handler(request, runtime, handler, PROJECTIONS,
                             lambda: _one(role_type, runtime, holder["id"]), ports=ACCOUNTS)


@post("/api/roles/users", guards=[require_auth], operation_id="createUserRole",
      status_code=200)
async def create_user_role(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                           ) -> Response[bytes]:
    return await _create(request, runtime, "user", await bind_user_role(request))


@post("/api/roles/lists", guards=[require_auth], operation_id="createListRole",
      status_code=200)
async def create_list_role(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                           ) -> Response[bytes]:
    return await _create(request, runtime, "list", await bind_list_role(request))


async def _update(request: Request[Any, Any, Any], runtime: Runtime, role_type: RoleType,
                  raw_id: str) -> Response[bytes]:
    role_id = path_id(raw_id)
    if role_id == 1:
        raise InvalidInput(handlers.INVALID_ID)
    value = await (bind_user_role if role_type == "user" else bind_list_role)(request)
    return await run_handler(
        request, runtime, partial(handlers.update_role, role_id, role_type, value, _now()),
        PROJECTIONS, lambda: _one(role_type, runtime, role_id), ports=ACCOUNTS)


@put("/api/roles/users/{role_id:str}", guards=[require_auth], operation_id="updateUserRole",
     status_code=200)
async def update_user_role(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                           role_id: FromPath[str]) -> Response[bytes]:
    return await _update(request, runtime, "user", role_id)


@put("/api/roles/lists/{role_id:str}", guards=[require_auth], operation_id="updateListRole",
     status_code=200)
async def update_list_role(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                           role_id: FromPath[str]) -> Response[bytes]:
    return await _update(request, runtime, "list", role_id)


@delete("/api/roles/{role_id:str}", guards=[require_auth], operation_id="deleteRole",
        status_code=200)
async def delete_role(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                      role_id: FromPath[str]) -> Response[bytes]:
    target = path_id(role_id)
    if target == 1:
        raise InvalidInput(handlers.INVALID_ID)
    return await run_handler(request, runtime, partial(handlers.delete_role, target, _now()),
                             PROJECTIONS, ports=ACCOUNTS)
