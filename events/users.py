"""Events of the ``user`` category (people and programs allowed to call the API).

They are the audit trail of who may act; they never carry a password, token or hash.
The credential index itself is ``eventlog.api_users``, written in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.base import Event

UserType = Literal["user", "api"]


class UserCreated(Event, tag="user.created", kw_only=True, frozen=True):
    """A user was created: ``user`` logs in with a password, ``api`` with a generated token."""

    CATEGORY = "user"
    user_id: int
    username: str
    user_type: UserType
    at: datetime


class UserPasswordChanged(Event, tag="user.password_changed", kw_only=True, frozen=True):
    """A user's password (or an API user's token) was replaced."""

    CATEGORY = "user"
    user_id: int
    at: datetime


class UserDeleted(Event, tag="user.deleted", kw_only=True, frozen=True):
    CATEGORY = "user"
    user_id: int
    username: str
    at: datetime


UserEvent = UserCreated | UserPasswordChanged | UserDeleted
