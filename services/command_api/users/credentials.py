"""The credential index user handlers change (``eventlog.api_users``), and its PostgreSQL adapter.

The index maps a unique username to a user id, its type and the hash of its password or token;
authentication reads it (``services/auth/users.py``). Handlers change it in the command's
transaction, beside the ``user.*`` event that records the change, so the two never disagree.

``EventStore`` (``services/command_api/store.py``) has unique-key indexes, but none that keeps
a hash beside the owner; until it does this small port sits beside it, and ``with_credentials``
hands a handler both on the same transaction. Tests use a fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from psycopg.rows import tuple_row

from events.users import UserType
from services.command_api.store import Ports

_ADMIN_LOCK = 0x706F73746C6F6701  # advisory lock: one process at a time settles the admin


@dataclass(frozen=True)
class StoredUser:
    """One user's row of the index."""

    user_id: int
    username: str
    user_type: UserType
    secret_hash: str


class Credentials(Protocol):
    """The credential index as the command's transaction sees it."""

    async def add(self, user: StoredUser) -> bool:
        """Store a new user; False (nothing stored) if its username is taken."""
        ...

    async def find(self, username: str) -> StoredUser | None:
        ...

    async def first_admin(self, username: str | None) -> str | None:
        """The username of the oldest password user (named ``username`` when given)."""
        ...

    async def replace_hash(self, user_id: int, secret_hash: str) -> None:
        ...

    async def remove(self, username: str) -> int | None:
        """Drop a user's row; the id it had, or None if there was none."""
        ...

    async def serialise_admin(self) -> None:
        """Wait until no other command is settling the admin, then hold that turn until this
        command ends."""
        ...




class PostgresCredentials:
    """``Credentials`` over the command's connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def add(self, user: StoredUser) -> bool:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            "INSERT INTO eventlog.api_users (id, username, user_type, password_hash)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (username) DO NOTHING RETURNING id",
            (user.user_id, user.username, user.user_type, user.secret_hash))
        return await cur.fetchone() is not None

    async def find(self, username: str) -> StoredUser | None:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            "SELECT id, user_type, password_hash FROM eventlog.api_users WHERE username = %s",
            (username,))
        row = await cur.fetchone()
        if row is None:
            return None
        user_type: UserType = "api" if row[1] == "api" else "user"
        return StoredUser(int(row[0]), username, user_type, str(row[2]))

    async def first_admin(self, username: str | None) -> str | None:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            "SELECT username FROM eventlog.api_users WHERE user_type = 'user'"
            " AND (%s::text IS NULL OR username = %s) ORDER BY id LIMIT 1",
            (username, username))
        row = await cur.fetchone()
        return str(row[0]) if row else None

    async def replace_hash(self, user_id: int, secret_hash: str) -> None:
        await self.conn.execute(
            "UPDATE eventlog.api_users SET password_hash = %s WHERE id = %s",
            (secret_hash, user_id))

    async def remove(self, username: str) -> int | None:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            "DELETE FROM eventlog.api_users WHERE username = %s RETURNING id", (username,))
        row = await cur.fetchone()
        return int(row[0]) if row else None

    async def serialise_admin(self) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ADMIN_LOCK,))


CREDENTIALS: Ports = {"credentials": lambda conn, master_key: PostgresCredentials(conn)}
"""The port ``credentials`` the executor builds on the command's transaction for this area's
handlers (``execute_handler(..., ports=CREDENTIALS)``)."""
