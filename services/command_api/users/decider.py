"""The user decider: pure ``decide`` and ``evolve`` over one ``user-<id>`` stream.

A user's stream is the audit trail of its credentials: created, its secret replaced, deleted.
The credentials themselves (hashes) live in ``eventlog.api_users``, changed by the handler in
the same transaction; the stream never holds a secret. Ids and time arrive on the command.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event
from events.users import (
    UserCreated,
    UserDeleted,
    UserPasswordChanged,
    UserStatus,
    UserType,
    UserUpdated,
)
from kernel.errors import Conflict, NotFound
from services.command_api.decider import Decider

USER_NOT_FOUND = "user not found"


class CreateUser(msgspec.Struct, frozen=True, kw_only=True):
    """Record a user whose credentials were just stored under a fresh id (the API gives its
    profile and roles; the CLI's users are Super Admins without a profile)."""

    user_id: int
    username: str
    user_type: UserType
    at: datetime
    email: str = ""
    name: str = ""
    password_login: bool = False
    status: UserStatus = "enabled"
    user_role_id: int = 1
    list_role_id: int | None = None


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """A user's whole editable value (``email`` and ``name`` as sealed tokens)."""

    username: str
    user_type: UserType
    email: str
    name: str
    password_login: bool
    status: UserStatus
    user_role_id: int
    list_role_id: int | None


class UpdateUser(msgspec.Struct, frozen=True, kw_only=True):
    """Give a user a new profile and rights (nothing is recorded when nothing changes)."""

    user_id: int
    profile: Profile
    at: datetime


class ChangePassword(msgspec.Struct, frozen=True, kw_only=True):
    """Record that a user's password (or token) was replaced."""

    user_id: int
    at: datetime


class DeleteUser(msgspec.Struct, frozen=True, kw_only=True):
    """Record that a user's credentials were removed."""

    user_id: int
    username: str
    at: datetime


UserCommand = CreateUser | UpdateUser | ChangePassword | DeleteUser


class Absent(msgspec.Struct, frozen=True):
    """No user with this id was ever created."""


class Active(msgspec.Struct, frozen=True, kw_only=True):
    """A user who may call the API."""

    user_id: int
    username: str
    user_type: UserType
    profile: Profile | None = None


class Deleted(msgspec.Struct, frozen=True):
    """The user's credentials are gone; its id is never reused."""


UserState = Absent | Active | Deleted


def stream_id(user_id: int) -> str:
    return f"user-{user_id}"


def decide(state: UserState, command: UserCommand) -> list[Event]:
    """The events a command produces on a user in ``state``, or a ``DomainError``."""
    if isinstance(command, CreateUser):
        if not isinstance(state, Absent):
            raise Conflict(f"user '{command.username}' already exists")
        return [UserCreated(user_id=command.user_id, username=command.username,
                            user_type=command.user_type, at=command.at, email=command.email,
                            name=command.name, password_login=command.password_login,
                            status=command.status, user_role_id=command.user_role_id,
                            list_role_id=command.list_role_id)]
    if not isinstance(state, Active):
        raise NotFound(USER_NOT_FOUND)
    if isinstance(command, UpdateUser):
        if command.profile == state.profile:
            return []
        p = command.profile
        return [UserUpdated(user_id=state.user_id, username=p.username, user_type=p.user_type,
                            email=p.email, name=p.name, password_login=p.password_login,
                            status=p.status, user_role_id=p.user_role_id,
                            list_role_id=p.list_role_id, at=command.at)]
    if isinstance(command, ChangePassword):
        return [UserPasswordChanged(user_id=state.user_id, at=command.at)]
    return [UserDeleted(user_id=state.user_id, username=command.username, at=command.at)]


def evolve(state: UserState, event: Event) -> UserState:
    """The user's state after ``event``."""
    if isinstance(event, UserCreated):
        return Active(user_id=event.user_id, username=event.username,
                      user_type=event.user_type, profile=Profile(
                          username=event.username, user_type=event.user_type,
                          email=event.email, name=event.name,
                          password_login=event.password_login, status=event.status,
                          user_role_id=event.user_role_id, list_role_id=event.list_role_id))
    if isinstance(event, UserUpdated) and isinstance(state, Active):
        return Active(user_id=state.user_id, username=event.username,
                      user_type=event.user_type, profile=Profile(
                          username=event.username, user_type=event.user_type,
                          email=event.email, name=event.name,
                          password_login=event.password_login, status=event.status,
                          user_role_id=event.user_role_id, list_role_id=event.list_role_id))
    if isinstance(event, UserDeleted):
        return Deleted()
    return state


user_decider: Decider[UserState, UserCommand] = Decider(
    initial=Absent(), decide=decide, evolve=evolve
)
