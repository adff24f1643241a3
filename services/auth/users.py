"""Who may call the API: reading the credential index (``eventlog.api_users``).

The index holds only hashes; every change to it is also appended as a ``user.*`` event in the
same transaction (``services/command_api/users/handlers.py``), so the log records who was allowed
in and when, without ever holding a secret. Authentication (``guard.py``) reads it here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
    """What authentication needs about one user: its hash, status and rights."""

    username: str
    user_type: UserType
    password_hash: str
    enabled: bool
    user_id: int = 0
    user_role_id: int = 1
    permissions: frozenset[str] = frozenset()
    list_role_id: int | None = None
    list_grants: dict[int, frozenset[str]] = field(default_factory=dict)


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


# One indexed read per request: the user's row and both of its roles, as committed now.
_CREDENTIALS_SQL = (
    "SELECT u.username, u.user_type, u.password_hash, u.status, u.id, u.user_role_id,"
    " ur.permissions, u.list_role_id, lr.lists"
    " FROM eventlog.api_users u"
    " LEFT JOIN eventlog.api_roles ur ON ur.id = u.user_role_id AND ur.role_type = 'user'"
    " LEFT JOIN eventlog.api_roles lr ON lr.id = u.list_role_id AND lr.role_type = 'list'"
    " WHERE u.username = %s"
)


# A login session's user, as committed now: the session must be live, the user an enabled
# person with password login (docs/logins.md).
_SESSION_SQL = (
    "SELECT u.username, u.user_type, '' AS password_hash, u.status, u.id, u.user_role_id,"
    " ur.permissions, u.list_role_id, lr.lists"
    " FROM eventlog.sessions s JOIN eventlog.api_users u ON u.id = s.user_id"
    " LEFT JOIN eventlog.api_roles ur ON ur.id = u.user_role_id AND ur.role_type = 'user'"
    " LEFT JOIN eventlog.api_roles lr ON lr.id = u.list_role_id AND lr.role_type = 'list'"
    " WHERE s.id_hash = %s AND s.kind = 'session' AND s.expires_at > now()"
    " AND u.status = 'enabled' AND u.password_login AND u.user_type = 'user'"
)


def _grants(lists: Any) -> dict[int, frozenset[str]]:
    return {int(item["id"]): frozenset(item.get("permissions") or ()) for item in lists or ()}


async def stored_credentials(
    conn: psycopg.AsyncConnection[Any], username: str
) -> StoredCredentials | None:
    """The hash, status and rights of one user, for authentication."""
    cur = await conn.cursor(row_factory=tuple_row).execute(_CREDENTIALS_SQL, (username,))
    return _stored(await cur.fetchone())


async def session_credentials(
    conn: psycopg.AsyncConnection[Any], session_hash: str
) -> StoredCredentials | None:
    """The rights of a live login session's user (no hash: the session is the credential)."""
    cur = await conn.cursor(row_factory=tuple_row).execute(_SESSION_SQL, (session_hash,))
    return _stored(await cur.fetchone())


def _stored(row: tuple[Any, ...] | None) -> StoredCredentials | None:
    if row is None:
        return None
    return StoredCredentials(
        str(row[0]), row[1], str(row[2]), row[3] == "enabled", user_id=int(row[4]),
        user_role_id=int(row[5]), permissions=frozenset(row[6] or ()),
        list_role_id=int(row[7]) if row[7] is not None else None, list_grants=_grants(row[8]))
