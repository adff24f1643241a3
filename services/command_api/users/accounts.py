"""The credential and role indexes the users API and roles API change (``eventlog.api_users``,
``eventlog.api_roles``), and the users' data keys, on the command's transaction.

The request guard reads these two tables in one query (``services/auth/users.py``), so what a
command writes here is in force on every process the moment it commits; the ``user.*`` and
``role.*`` events appended beside it are the audit trail and feed the read models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from events.roles import ListGrant
from events.user_keys import shred_user, user_key
from services.command_api.store import Ports


@dataclass(frozen=True)
class IndexedUser:
    user_id: int
    username: str
    user_type: str
    secret_hash: str
    status: str
    password_login: bool
    user_role_id: int
    list_role_id: int | None


class Accounts(Protocol):
    async def user(self, user_id: int) -> IndexedUser | None: ...
    async def insert_user(self, user: IndexedUser) -> bool: ...
    async def update_user(self, user: IndexedUser) -> bool: ...
    async def delete_user(self, user_id: int) -> None: ...
    async def super_admins_besides(self, user_ids: list[int]) -> int: ...
    async def role_type(self, role_id: int) -> str | None: ...
    async def put_role(self, role_id: int, role_type: str, name: str,
                       permissions: tuple[str, ...], lists: tuple[ListGrant, ...]) -> bool: ...
    async def delete_role(self, role_id: int) -> None: ...
    async def role_in_use(self, role_id: int) -> bool: ...
    async def user_key(self, user_id: int) -> bytes: ...
    async def shred(self, user_id: int) -> None: ...


_USER_COLUMNS = ("id, username, user_type, password_hash, status, password_login,"
                 " user_role_id, list_role_id")


class PostgresAccounts:
    def __init__(self, conn: psycopg.AsyncConnection[Any], master_key: bytes | None) -> None:
        self.conn = conn
        self.master_key = master_key

    async def user(self, user_id: int) -> IndexedUser | None:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            f"SELECT {_USER_COLUMNS} FROM eventlog.api_users WHERE id = %s FOR UPDATE",
            (user_id,))
        row = await cur.fetchone()
        if row is None:
            return None
        return IndexedUser(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]),
                           bool(row[5]), int(row[6]), None if row[7] is None else int(row[7]))

    async def insert_user(self, user: IndexedUser) -> bool:
        cur = await self.conn.execute(
            "INSERT INTO eventlog.api_users (id, username, user_type, password_hash, status,"
            " password_login, user_role_id, list_role_id) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (username) DO NOTHING",
            (user.user_id, user.username, user.user_type, user.secret_hash, user.status,
             user.password_login, user.user_role_id, user.list_role_id))
        return cur.rowcount == 1

    async def update_user(self, user: IndexedUser) -> bool:
        taken = await self.conn.execute(
            "SELECT 1 FROM eventlog.api_users WHERE username = %s AND id <> %s",
            (user.username, user.user_id))
        if await taken.fetchone() is not None:
            return False
        await self.conn.execute(
            "UPDATE eventlog.api_users SET username = %s, user_type = %s, password_hash = %s,"
            " status = %s, password_login = %s, user_role_id = %s, list_role_id = %s,"
            " updated_at = now() WHERE id = %s",
            (user.username, user.user_type, user.secret_hash, user.status,
             user.password_login, user.user_role_id, user.list_role_id, user.user_id))
        return True

    async def delete_user(self, user_id: int) -> None:
        await self.conn.execute("DELETE FROM eventlog.api_users WHERE id = %s", (user_id,))

    async def super_admins_besides(self, user_ids: list[int]) -> int:
        # Row locks: two concurrent commands cannot each remove "the other" last admin.
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            "SELECT id FROM eventlog.api_users WHERE user_role_id = 1 AND user_type = 'user'"
            " AND status = 'enabled' AND NOT (id = ANY(%s)) FOR UPDATE", (user_ids,))
        return len(await cur.fetchall())

    async def role_type(self, role_id: int) -> str | None:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            "SELECT role_type FROM eventlog.api_roles WHERE id = %s FOR SHARE", (role_id,))
        row = await cur.fetchone()
        return None if row is None else str(row[0])

    async def put_role(self, role_id: int, role_type: str, name: str,
                       permissions: tuple[str, ...], lists: tuple[ListGrant, ...]) -> bool:
        taken = await self.conn.execute(
            "SELECT 1 FROM eventlog.api_roles WHERE role_type = %s AND name = %s AND id <> %s",
            (role_type, name, role_id))
        if await taken.fetchone() is not None:
            return False
        grants = [{"id": g.list_id, "permissions": list(g.permissions)} for g in lists]
        await self.conn.execute(
            "INSERT INTO eventlog.api_roles (id, role_type, name, permissions, lists)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,"
            " permissions = EXCLUDED.permissions, lists = EXCLUDED.lists",
            (role_id, role_type, name, list(permissions), Jsonb(grants)))
        return True

    async def delete_role(self, role_id: int) -> None:
        await self.conn.execute("DELETE FROM eventlog.api_roles WHERE id = %s", (role_id,))

    async def role_in_use(self, role_id: int) -> bool:
        cur = await self.conn.execute(
            "SELECT 1 FROM eventlog.api_users WHERE user_role_id = %s OR list_role_id = %s"
            " LIMIT 1 FOR UPDATE", (role_id, role_id))
        return await cur.fetchone() is not None

    async def user_key(self, user_id: int) -> bytes:
        return await user_key(self.conn, user_id, master_key=self.master_key)

    async def shred(self, user_id: int) -> None:
        await shred_user(self.conn, user_id)


ACCOUNTS: Ports = {"accounts": lambda conn, master_key: PostgresAccounts(conn, master_key)}
"""The port ``accounts`` for the users and roles API handlers."""
