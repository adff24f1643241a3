"""Commands on users: the super-admin at start-up, API users made and deleted by the CLI.

Each handler changes the credential index (``Credentials``: ``eventlog.api_users``, hashes
only) and stages the matching ``user.*`` event, decided by the pure ``user_decider``, in one
transaction. ``ensure_admin``, ``create_api_user`` and ``delete_user`` are what start-up and the
CLI call: each runs one handler through the executor and returns what its caller shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from events.users import UserType
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
from services.command_api.executor import CommandContext, execute_handler
from services.command_api.store import EventStore, decide_on
from services.command_api.users.credentials import (
    CREDENTIALS,
    Credentials,
    StoredUser,
)
from services.command_api.users.decider import (
    ChangePassword,
    CreateUser,
    DeleteUser,
    stream_id,
    user_decider,
)

log = structlog.get_logger(__name__)

USER_ID_SEQUENCE = "eventlog.user_id_seq"


@dataclass(frozen=True)
class AdminCredentials:
    """The super-admin after start-up; ``password`` is set only when it must be shown."""

    username: str
    password: str | None
    generated: bool


@dataclass(frozen=True)
class NewUser:
    """A user to create: its name (validated), type and the hash of its secret."""

    username: str
    user_type: UserType
    secret_hash: str
    at: datetime


@dataclass(frozen=True)
class WantedAdmin:
    """What start-up asks of the admin: ``POSTLOG_ADMIN_USER`` (validated) and
    ``POSTLOG_ADMIN_PASSWORD`` if set, and the password to create one with if neither an admin
    nor a password exists."""

    username: str | None
    password: str | None
    generated: str | None
    at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


# --- handlers ------------------------------------------------------------------------------


async def create_user(new: NewUser, store: EventStore, credentials: Credentials
                      ) -> dict[str, Any]:
    """``{"user_id": id}`` of the new user; 409 if the name is taken."""
    user_id = await store.next_id(USER_ID_SEQUENCE)
    if not await credentials.add(StoredUser(user_id, new.username, new.user_type,
                                            new.secret_hash)):
        raise Conflict(f"user '{new.username}' already exists")
    await decide_on(store, stream_id(user_id), user_decider, CreateUser(
        user_id=user_id, username=new.username, user_type=new.user_type, at=new.at))
    return {"user_id": user_id}


async def settle_admin(wanted: WantedAdmin, store: EventStore, credentials: Credentials
                       ) -> dict[str, Any]:
    """With a password: the admin exists with it. Without: an existing admin is kept, or
    one is created with the generated password. ``{"username", "password"}``, where
    ``password`` says which one the caller shows: ``given``, ``generated`` or ``kept``
    (the secret itself never enters a command's result)."""
    await credentials.serialise_admin()
    username = wanted.username or DEFAULT_ADMIN
    if wanted.password is not None:
        await _set_password(username, wanted.password, wanted.at, store, credentials)
        return {"username": username, "password": "given"}
    existing = await credentials.first_admin(wanted.username)
    if existing is not None:
        return {"username": existing, "password": "kept"}
    assert wanted.generated is not None
    await create_user(NewUser(username, "user", hash_password(wanted.generated), wanted.at),
                      store, credentials)
    return {"username": username, "password": "generated"}


async def _set_password(username: str, password: str, at: datetime, store: EventStore,
                        credentials: Credentials) -> None:
    """Create the user with this password, or replace its hash if it no longer matches."""
    found = await credentials.find(username)
    if found is None:
        await create_user(NewUser(username, "user", hash_password(password), at),
                          store, credentials)
        return
    if found.user_type != "user":
        raise Conflict(f"'{username}' is an API user and cannot be the admin")
    if verify_secret(found.secret_hash, password):
        return
    await credentials.replace_hash(found.user_id, hash_password(password))
    await decide_on(store, stream_id(found.user_id), user_decider,
                    ChangePassword(user_id=found.user_id, at=at))


async def remove_user(username: str, at: datetime, store: EventStore, credentials: Credentials
                      ) -> dict[str, Any]:
    """Remove a user's credentials; ``{"user_id": id}``, or ``{}`` for an unknown name."""
    user_id = await credentials.remove(username)
    if user_id is None:
        return {}
    await decide_on(store, stream_id(user_id), user_decider,
                    DeleteUser(user_id=user_id, username=username, at=at))
    return {"user_id": user_id}


# --- what start-up and the CLI call --------------------------------------------------------


async def create_api_user(
    pool: AsyncConnectionPool[Any], name: str, *, actor: str = "system"
) -> str:
    """Create an API user and return its 48-character token; only its hash is kept."""
    username = validate_username(name)
    token = generate_api_token()
    new = NewUser(username, "api", hash_token(token), _now())
    await execute_handler(pool, CommandContext(actor=actor),
                          partial(create_user, new), ports=CREDENTIALS)
    log.info("api_user_created", username=username)
    return token


async def ensure_admin(pool: AsyncConnectionPool[Any], settings: Settings) -> AdminCredentials:
    """Make sure a super-admin exists (run at start-up, safe to run concurrently).

    ``POSTLOG_ADMIN_PASSWORD`` given: the admin (``POSTLOG_ADMIN_USER`` or ``admin``) exists with
    that password. Not given: an existing admin is kept as is; with no admin at all, one is created
    with a generated password, returned so the caller prints it once.
    """
    password = settings.admin_password or None
    wanted = WantedAdmin(
        username=validate_username(settings.admin_user) if settings.admin_user else None,
        password=password,
        generated=random_secret(GENERATED_PASSWORD_LENGTH) if password is None else None,
        at=_now())
    outcome = await execute_handler(pool, CommandContext(actor="system"),
                                    partial(settle_admin, wanted), ports=CREDENTIALS)
    shown = outcome.result["password"]
    passwords = {"given": wanted.password, "generated": wanted.generated}
    admin = AdminCredentials(str(outcome.result["username"]), passwords.get(shown),
                             generated=shown == "generated")
    log.info("admin_ready", username=admin.username, generated=admin.generated)
    return admin


async def delete_user(pool: AsyncConnectionPool[Any], name: str, *, actor: str = "system") -> bool:
    """Remove a user's credentials (its token or password stops working); False if unknown."""
    username = name.strip()
    outcome = await execute_handler(pool, CommandContext(actor=actor),
                                    partial(remove_user, username, _now()), ports=CREDENTIALS)
    deleted = "user_id" in outcome.result
    if deleted:
        log.info("user_deleted", username=username)
    return deleted
