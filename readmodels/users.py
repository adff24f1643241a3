"""Readers of the ``users`` read model: listmonk's user objects (``GET /api/users``,
``/api/users/:id``, ``/api/profile``), with their user role and list role. Never a secret."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from readmodels.lists import timestamp
from readmodels.roles import list_roles, user_roles


def render_user(row: dict[str, Any], roles: dict[int, dict[str, Any]],
                lroles: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """A user as listmonk's JSON has it (same keys, same order)."""
    role = roles.get(row["user_role_id"], {"id": row["user_role_id"], "name": "",
                                          "permissions": []})
    out: dict[str, Any] = {
        "id": row["id"], "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]), "username": row["username"],
        "password_login": row["password_login"],
        "email": None if row["type"] == "api" else row["email"], "name": row["name"],
        "type": row["type"], "status": row["status"], "avatar": None,
        "twofa_type": row.get("twofa_type") or "none",
        "loggedin_at": timestamp(row["loggedin_at"]) if row.get("loggedin_at") else None,
    }
    if row["list_role_id"] is not None:
        out["list_role_id"] = row["list_role_id"]
    out["user_role"] = {"id": role["id"], "name": role["name"],
                        "permissions": role["permissions"]}
    lrole = lroles.get(row["list_role_id"]) if row["list_role_id"] is not None else None
    out["list_role"] = (None if lrole is None else
                        {"id": lrole["id"], "name": lrole["name"], "lists": lrole["lists"]})
    return out


async def fetch_users(pool: AsyncConnectionPool[Any], user_id: int | None = None
                      ) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(
            "SELECT * FROM readmodel.users WHERE %(id)s::bigint IS NULL OR id = %(id)s"
            " ORDER BY created_at, id", {"id": user_id})
        rows = await cur.fetchall()
    if not rows:
        return []
    roles = {r["id"]: r for r in await user_roles(pool)}
    lroles = {r["id"]: r for r in await list_roles(pool)}
    return [render_user(r, roles, lroles) for r in rows]


async def fetch_user(pool: AsyncConnectionPool[Any], user_id: int) -> dict[str, Any] | None:
    found = await fetch_users(pool, user_id)
    return found[0] if found else None
