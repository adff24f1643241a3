"""Who may call the API: reading the credential index (``eventlog.api_users``).

The index holds only hashes; every change to it is also appended as a ``user.*`` event in the
same transaction (``services/command_api/users/handlers.py``), so the log records who was allowed
in and when, without ever holding a secret. Authentication (``guard.py``) reads it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.users import UserType
from kernel.errors import InvalidInput

DEFAULT_ADMIN = "admin"
_USERNAME = re.compile(r"^[a-zA-Z0-9_\-.@]{3,200}$")


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    user_type: UserType
    status: str
    created_at: datetime


@dataclass(frozen=True)
class StoredCredentials:
    """What authentication needs about one user."""

    username: str
    user_type: UserType
    password_hash: str
    enabled: bool


def validate_username(name: str) -> str:
    """listmonk's rule: 3-200 characters of letters, digits, ``_ - . @`` (so never a ``:``)."""
    name = name.strip()
    if not _USERNAME.match(name):
        raise InvalidInput("invalid username: use 3-200 letters, digits or _ - . @")
    return name


async def list_users(pool: AsyncConnectionPool[Any]) -> list[UserInfo]:
    """Every user, oldest first (no secrets)."""
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT id, username, user_type, status, created_at FROM eventlog.api_users ORDER BY id"
        )
        rows = await cur.fetchall()
    return [UserInfo(int(r[0]), str(r[1]), r[2], str(r[3]), r[4]) for r in rows]


async def stored_credentials(
    conn: psycopg.AsyncConnection[Any], username: str
) -> StoredCredentials | None:
    """The hash and status of one user, for authentication."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT username, user_type, password_hash, status FROM eventlog.api_users"
        " WHERE username = %s",
        (username,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    return StoredCredentials(str(row[0]), row[1], str(row[2]), row[3] == "enabled")
