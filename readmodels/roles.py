"""Readers of the ``roles`` read model: ``GET /api/roles/users`` and ``/api/roles/lists`` in
listmonk's shapes, with the built-in Super Admin role (id 1, every permission) first."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from events.roles import PERMISSIONS, SUPER_ADMIN_ROLE_ID, SUPER_ADMIN_ROLE_NAME
from readmodels.lists import timestamp


def _time(value: Any) -> str | None:
    return None if value is None else timestamp(value)


SUPER_ADMIN_ROLE: dict[str, Any] = {
    "id": SUPER_ADMIN_ROLE_ID, "created_at": None, "updated_at": None, "type": "user",
    "name": SUPER_ADMIN_ROLE_NAME, "permissions": list(PERMISSIONS), "lists": None}


def _user_role(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "created_at": _time(row["created_at"]),
            "updated_at": _time(row["updated_at"]), "type": "user", "name": row["name"],
            "permissions": list(row["permissions"]), "lists": None}


async def user_roles(pool: AsyncConnectionPool[Any], role_id: int | None = None
                     ) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(
            "SELECT id, name, permissions, created_at, updated_at FROM readmodel.roles"
            " WHERE type = 'user' AND (%(id)s::bigint IS NULL OR id = %(id)s)"
            " ORDER BY created_at, id", {"id": role_id})
        rows = await cur.fetchall()
    found = [_user_role(r) for r in rows]
    if role_id in (None, SUPER_ADMIN_ROLE_ID):
        found.insert(0, dict(SUPER_ADMIN_ROLE))
    return found


_LIST_ROLES = (
    "SELECT r.id, r.name, r.created_at, r.updated_at, COALESCE(("
    " SELECT jsonb_agg(jsonb_build_object('id', rl.list_id, 'name', l.name,"
    " 'permissions', rl.permissions) ORDER BY rl.list_id)"
    " FROM readmodel.role_lists rl LEFT JOIN readmodel.lists l ON l.id = rl.list_id"
    " WHERE rl.role_id = r.id), '[]'::jsonb) AS lists"
    " FROM readmodel.roles r WHERE r.type = 'list'"
    " AND (%(id)s::bigint IS NULL OR r.id = %(id)s) ORDER BY r.created_at, r.id")


async def list_roles(pool: AsyncConnectionPool[Any], role_id: int | None = None
                     ) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(_LIST_ROLES, {"id": role_id})
        rows = await cur.fetchall()
    return [{"id": r["id"], "created_at": _time(r["created_at"]),
             "updated_at": _time(r["updated_at"]), "name": r["name"], "lists": r["lists"]}
            for r in rows]
