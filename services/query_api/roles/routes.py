"""GET routes of the roles API: ``/api/roles/users`` and ``/api/roles/lists``."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency

from readmodels.roles import list_roles, user_roles
from services.auth.guard import require_auth
from services.runtime import Runtime


@get("/api/roles/users", guards=[require_auth], operation_id="getUserRoles")
async def get_user_roles(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    return {"data": await user_roles(runtime.read_pool)}


@get("/api/roles/lists", guards=[require_auth], operation_id="getListRoles")
async def get_list_roles(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    return {"data": await list_roles(runtime.read_pool)}
