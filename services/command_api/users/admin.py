"""Commands of the users API (``/api/users``, ``/api/profile``): handlers over the store and
the ``accounts`` port (credential and role indexes, users' data keys).

Each handler changes the index rows and stages the ``user.*`` events in one transaction, so
the guard's next read (any process) sees the change and the log records who made it (the
event metadata's actor). E-mail and name enter events sealed with the user's data key.
The route validates the input and hashes secrets (tokens are random, passwords slow): the
handler gets only hashes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from functools import reduce
from typing import Any

from events.store import StreamAppend
from events.user_keys import seal, unseal
from events.users import UserStatus, UserType
from kernel.errors import Conflict, InvalidInput, NotFound
from services.command_api.store import USER_EMAIL_INDEX, EventStore, decide_on
from services.command_api.users.accounts import Accounts, IndexedUser
from services.command_api.users.decider import (
    Active,
    ChangePassword,
    CreateUser,
    DeleteUser,
    Profile,
    UpdateUser,
    stream_id,
    user_decider,
)

USER_ID_SEQUENCE = "eventlog.user_id_seq"
NEED_SUPER = ("User(s) couldn't be updated. There has to be at least one active Super Admin"
              " user.")
USER_NOT_FOUND = "User not found"
EMAIL_TAKEN = "Another user has this e-mail."


def invalid(field: str) -> InvalidInput:
    return InvalidInput(f"Invalid fields: {field}")


@dataclass(frozen=True)
class AccountInput:
    """A user as the API sends it, validated. ``secret_hash`` None keeps the current one (or,
    for a new user without password login, stores none that can match)."""

    username: str
    user_type: UserType
    email: str
    name: str
    password_login: bool
    secret_hash: str | None
    status: UserStatus
    user_role_id: int
    list_role_id: int | None
    at: datetime


NO_SECRET = "none$"  # matches no secret: a user without password login (or not yet one)


async def _check_roles(accounts: Accounts, user_role_id: int, list_role_id: int | None) -> None:
    if await accounts.role_type(user_role_id) != "user":
        raise invalid("user_role_id")
    if list_role_id is not None and await accounts.role_type(list_role_id) != "list":
        raise invalid("list_role_id")


def _is_super(row: IndexedUser) -> bool:
    return row.user_role_id == 1 and row.user_type == "user" and row.status == "enabled"


async def create_account(new: AccountInput, store: EventStore, accounts: Accounts
                         ) -> dict[str, Any]:
    """``{"user_id": id}``; 409 if the username is taken, 400 for an unknown role."""
    await _check_roles(accounts, new.user_role_id, new.list_role_id)
    user_id = await store.next_id(USER_ID_SEQUENCE)
    row = IndexedUser(user_id, new.username, new.user_type, new.secret_hash or NO_SECRET,
                      new.status, new.password_login, new.user_role_id, new.list_role_id)
    if not await accounts.insert_user(row):
        raise Conflict(f"user '{new.username}' already exists")
    await _claim_email(store, user_id, new)
    key = await accounts.user_key(user_id)
    await decide_on(store, stream_id(user_id), user_decider, CreateUser(
        user_id=user_id, username=new.username, user_type=new.user_type, at=new.at,
        email=seal(key, user_id, "email", new.email), name=seal(key, user_id, "name", new.name),
        password_login=new.password_login, status=new.status, user_role_id=new.user_role_id,
        list_role_id=new.list_role_id))
    return {"user_id": user_id}


async def update_account(user_id: int, new: AccountInput, store: EventStore,
                         accounts: Accounts) -> dict[str, Any]:
    """Replace a user's profile and rights (listmonk's ``UpdateUser``)."""
    row = await accounts.user(user_id)
    if row is None:
        raise NotFound(USER_NOT_FOUND)
    await _check_roles(accounts, new.user_role_id, new.list_role_id)
    demoted = new.user_role_id != 1 or new.status != "enabled" or new.user_type != "user"
    if _is_super(row) and demoted and await accounts.super_admins_besides([user_id]) == 0:
        raise InvalidInput(NEED_SUPER)
    if row.user_type == "api" and new.user_type == "api":
        secret_hash = row.secret_hash  # an API user's token is never replaced by an edit
    elif not new.password_login:
        secret_hash = NO_SECRET
    else:
        secret_hash = new.secret_hash or row.secret_hash
    updated = IndexedUser(user_id, new.username, new.user_type, secret_hash, new.status,
                          new.password_login, new.user_role_id, new.list_role_id)
    if not await accounts.update_user(updated):
        raise Conflict(f"user '{new.username}' already exists")
    await _claim_email(store, user_id, new)
    recorded = await _record(user_id, new, store, accounts)
    if secret_hash != row.secret_hash:
        # On top of the profile's events staged just above (same stream, next version).
        state, version = await store.load(stream_id(user_id), user_decider)
        state = reduce(user_decider.evolve, recorded.events, state)
        store.append(StreamAppend(
            stream_id(user_id), version + len(recorded.events),
            user_decider.decide(state, ChangePassword(user_id=user_id, at=new.at))))
    return {"user_id": user_id}


async def _claim_email(store: EventStore, user_id: int, new: AccountInput) -> None:
    """A person's e-mail is theirs alone (listmonk's unique ``users.email``): claimed in the
    unique index of users' e-mails, 409 if another user has it; an API user holds none."""
    if new.user_type != "user" or not new.email:
        await store.release(USER_EMAIL_INDEX, [user_id])
        return
    digest = hashlib.sha256(new.email.lower().encode()).hexdigest()
    if await store.claim(USER_EMAIL_INDEX, digest, user_id) is not None:
        raise Conflict(EMAIL_TAKEN)


async def _record(user_id: int, new: AccountInput, store: EventStore, accounts: Accounts
                  ) -> StreamAppend:
    """Stage ``user.updated`` when the profile changed (unchanged e-mail and name keep their
    tokens, so an edit that changes nothing records nothing)."""
    state, _ = await store.load(stream_id(user_id), user_decider)
    key = await accounts.user_key(user_id)
    current = state.profile if isinstance(state, Active) else None

    def token(field: str, value: str) -> str:
        old = getattr(current, field) if current is not None else ""
        if old and unseal(key, user_id, field, old) == value:
            return str(old)
        return seal(key, user_id, field, value)

    profile = Profile(username=new.username, user_type=new.user_type,
                      email=token("email", new.email), name=token("name", new.name),
                      password_login=new.password_login, status=new.status,
                      user_role_id=new.user_role_id, list_role_id=new.list_role_id)
    return await decide_on(store, stream_id(user_id), user_decider,
                           UpdateUser(user_id=user_id, profile=profile, at=new.at))


async def current_account(user_id: int, store: EventStore, accounts: Accounts
                          ) -> tuple[IndexedUser, Profile, bytes]:
    """The index row, profile and data key of a user (404 if there is none)."""
    row = await accounts.user(user_id)
    state, _ = await store.load(stream_id(user_id), user_decider)
    if row is None or not isinstance(state, Active) or state.profile is None:
        raise NotFound(USER_NOT_FOUND)
    return row, state.profile, await accounts.user_key(user_id)


async def update_profile(user_id: int, name: str, email: str | None, secret_hash: str | None,
                         at: datetime, store: EventStore, accounts: Accounts
                         ) -> dict[str, Any]:
    """``PUT /api/profile``: the caller's name, e-mail and password (with password login)."""
    row, profile, key = await current_account(user_id, store, accounts)
    current_email = unseal(key, user_id, "email", profile.email)
    new = AccountInput(
        username=row.username, user_type=profile.user_type, name=name,
        email=email if (email is not None and row.password_login) else current_email,
        password_login=row.password_login,
        secret_hash=secret_hash if row.password_login else None, status=profile.status,
        user_role_id=row.user_role_id, list_role_id=row.list_role_id, at=at)
    return await update_account(user_id, replace(new), store, accounts)


async def delete_accounts(user_ids: list[int], at: datetime, store: EventStore,
                          accounts: Accounts) -> dict[str, Any]:
    """Delete users (unknown ids are ignored); refused if it would leave no enabled Super
    Admin user. Each deleted user's data key is destroyed (its e-mail and name are erased)."""
    rows = [row for uid in dict.fromkeys(user_ids) if (row := await accounts.user(uid))]
    if any(_is_super(r) for r in rows) and await accounts.super_admins_besides(
            [r.user_id for r in rows]) == 0:
        raise InvalidInput(NEED_SUPER)
    await store.release(USER_EMAIL_INDEX, [r.user_id for r in rows])
    for row in rows:
        await accounts.delete_user(row.user_id)
        await accounts.shred(row.user_id)
        await decide_on(store, stream_id(row.user_id), user_decider,
                        DeleteUser(user_id=row.user_id, username=row.username, at=at))
    return {"deleted": [r.user_id for r in rows]}
