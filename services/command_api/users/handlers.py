"""Commands on users: the super-admin at start-up, API users made and deleted by the CLI.

Each writes the credential index (``eventlog.api_users``, hashes only) and appends the matching
``user.*`` event in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.store import NO_STREAM, StreamAppend, stream_version
from events.users import UserCreated, UserDeleted, UserPasswordChanged, UserType
from kernel.errors import Conflict
from kernel.settings import Settings
from services.auth.passwords import (
    GENERATED_PASSWORD_LENGTH,
    generate_api_token,
    hash_password,
    hash_token,
    random_secret,
    verify_secret,
)
from services.auth.users import DEFAULT_ADMIN, validate_username
from services.command_api.executor import CommandContext, Decision, execute

log = structlog.get_logger(__name__)

_ADMIN_LOCK = 0x706F73746C6F6701  # advisory lock: one process at a time settles the admin


@dataclass(frozen=True)
class AdminCredentials:
    """The super-admin after start-up; ``password`` is set only when it must be shown."""

    username: str
    password: str | None
    generated: bool


def _stream(user_id: int) -> str:
    return f"user-{user_id}"


def _now() -> datetime:
    return datetime.now(UTC)


async def _insert_user(
    conn: psycopg.AsyncConnection[Any], username: str, user_type: UserType, stored_hash: str
) -> StreamAppend:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "INSERT INTO eventlog.api_users (id, username, user_type, password_hash)"
        " VALUES (nextval('eventlog.user_id_seq'), %s, %s, %s)"
        " ON CONFLICT (username) DO NOTHING RETURNING id",
        (username, user_type, stored_hash),
    )
    row = await cur.fetchone()
    if row is None:
        raise Conflict(f"user '{username}' already exists")
    user_id = int(row[0])
    event = UserCreated(user_id=user_id, username=username, user_type=user_type, at=_now())
    return StreamAppend(stream_id=_stream(user_id), expected_version=NO_STREAM, events=[event])


async def create_api_user(
    pool: AsyncConnectionPool[Any], name: str, *, actor: str = "system"
) -> str:
    """Create an API user and return its 48-character token; only its hash is kept."""
    username = validate_username(name)
    token = generate_api_token()

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        append = await _insert_user(conn, username, "api", hash_token(token))
        return Decision(appends=[append])

    await execute(pool, CommandContext(actor=actor), decide)
    log.info("api_user_created", username=username)
    return token


async def ensure_admin(pool: AsyncConnectionPool[Any], settings: Settings) -> AdminCredentials:
    """Make sure a super-admin exists (run at start-up, safe to run concurrently).

    ``POSTLOG_ADMIN_PASSWORD`` given: the admin (``POSTLOG_ADMIN_USER`` or ``admin``) exists with
    that password. Not given: an existing admin is kept as is; with no admin at all, one is created
    with a generated password, returned so the caller prints it once.
    """
    wanted = validate_username(settings.admin_user) if settings.admin_user else None
    password = settings.admin_password or None
    generated = random_secret(GENERATED_PASSWORD_LENGTH) if password is None else None
    outcome: dict[str, AdminCredentials] = {}

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ADMIN_LOCK,))
        if password is not None:
            username = wanted or DEFAULT_ADMIN
            outcome["admin"] = AdminCredentials(username, password, generated=False)
            return Decision(appends=await _set_password(conn, username, password))
        existing = await _find_admin(conn, wanted)
        if existing is not None:
            outcome["admin"] = AdminCredentials(existing, None, generated=False)
            return Decision(appends=[])
        assert generated is not None
        username = wanted or DEFAULT_ADMIN
        outcome["admin"] = AdminCredentials(username, generated, generated=True)
        return Decision(appends=[await _insert_user(conn, username, "user",
                                                    hash_password(generated))])

    await execute(pool, CommandContext(actor="system"), decide)
    admin = outcome["admin"]
    log.info("admin_ready", username=admin.username, generated=admin.generated)
    return admin


async def _find_admin(conn: psycopg.AsyncConnection[Any], wanted: str | None) -> str | None:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT username FROM eventlog.api_users WHERE user_type = 'user'"
        " AND (%s::text IS NULL OR username = %s) ORDER BY id LIMIT 1",
        (wanted, wanted),
    )
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def _set_password(
    conn: psycopg.AsyncConnection[Any], username: str, password: str
) -> list[StreamAppend]:
    """Create the user with this password, or replace its hash if it no longer matches."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT id, user_type, password_hash FROM eventlog.api_users WHERE username = %s",
        (username,),
    )
    row = await cur.fetchone()
    if row is None:
        return [await _insert_user(conn, username, "user", hash_password(password))]
    user_id, user_type, stored = int(row[0]), str(row[1]), str(row[2])
    if user_type != "user":
        raise Conflict(f"'{username}' is an API user and cannot be the admin")
    if verify_secret(stored, password):
        return []
    await conn.execute(
        "UPDATE eventlog.api_users SET password_hash = %s WHERE id = %s",
        (hash_password(password), user_id),
    )
    version = await stream_version(conn, _stream(user_id))
    event = UserPasswordChanged(user_id=user_id, at=_now())
    return [StreamAppend(stream_id=_stream(user_id), expected_version=version, events=[event])]


async def delete_user(pool: AsyncConnectionPool[Any], name: str, *, actor: str = "system") -> bool:
    """Remove a user's credentials (its token or password stops working); False if unknown."""
    deleted: list[int] = []

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "DELETE FROM eventlog.api_users WHERE username = %s RETURNING id", (name.strip(),)
        )
        row = await cur.fetchone()
        if row is None:
            return Decision(appends=[])
        user_id = int(row[0])
        deleted.append(user_id)
        version = await stream_version(conn, _stream(user_id))
        event = UserDeleted(user_id=user_id, username=name.strip(), at=_now())
        return Decision(appends=[StreamAppend(_stream(user_id), version, [event])])

    await execute(pool, CommandContext(actor=actor), decide)
    if deleted:
        log.info("user_deleted", username=name.strip())
    return bool(deleted)
