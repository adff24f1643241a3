"""Events of the ``user`` category (people and programs allowed to call the API).

They are the audit trail of who may act and with which roles (the event metadata's ``actor``
says who granted them); they never carry a password, token or hash. The credential index
itself is ``eventlog.api_users``, written in the same transaction.

A user's ``email`` and ``name`` are personal data: events carry them sealed (tokens of
``events/crypto.py``) with the user's own data key (``eventlog.user_keys``) and the aad
``user:<id>:<field>``; deleting the user destroys the key (``user_keys.py``).
Users created before roles existed (the CLI, the super-admin) decode with role 1, Super Admin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.base import Event

UserType = Literal["user", "api"]
UserStatus = Literal["enabled", "disabled"]
SUPER_ADMIN_ROLE = 1


class UserCreated(Event, tag="user.created", kw_only=True, frozen=True):
    """A user was created: ``user`` logs in with a password, ``api`` with a generated token."""

    CATEGORY = "user"
    user_id: int
    username: str
    user_type: UserType
    at: datetime
    email: str = ""  # sealed token ("" for the CLI's users)
    name: str = ""  # sealed token ("" for the CLI's users: the username is shown)
    password_login: bool = False
    status: UserStatus = "enabled"
    user_role_id: int = SUPER_ADMIN_ROLE
    list_role_id: int | None = None


class UserUpdated(Event, tag="user.updated", kw_only=True, frozen=True):
    """A user's whole new profile and rights (``PUT /api/users/:id``, ``PUT /api/profile``):
    values the request left out were copied from the current ones."""

    CATEGORY = "user"
    user_id: int
    username: str
    user_type: UserType
    email: str  # sealed token
    name: str  # sealed token
    password_login: bool
    status: UserStatus
    user_role_id: int
    list_role_id: int | None
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


TwofaType = Literal["totp"]


class UserLoggedIn(Event, tag="user.logged_in", kw_only=True, frozen=True):
    """A person logged in with its password (and TOTP code when 2FA is on) and got a session
    (docs/logins.md). Neither the session nor the client address is recorded."""

    CATEGORY = "user"
    user_id: int
    twofa: bool = False
    at: datetime


class UserTwofaEnabled(Event, tag="user.twofa_enabled", kw_only=True, frozen=True):
    """Two-factor login turned on. The secret is never in an event: it is kept sealed with
    the user's data key in the credential index."""

    CATEGORY = "user"
    user_id: int
    twofa_type: TwofaType = "totp"
    at: datetime


class UserTwofaDisabled(Event, tag="user.twofa_disabled", kw_only=True, frozen=True):
    CATEGORY = "user"
    user_id: int
    at: datetime


UserEvent = (UserCreated | UserUpdated | UserPasswordChanged | UserDeleted | UserLoggedIn
             | UserTwofaEnabled | UserTwofaDisabled)
