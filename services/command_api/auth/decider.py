"""The login side of a user's stream (``user-<id>``): logins and two-factor changes.

Pure: ``decide(state, command) -> events`` and ``evolve(state, event) -> state``. It folds the
same stream as the users decider (``services/command_api/users/decider.py``), reading only
what it needs: whether the user exists and whether TOTP is on.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event
from events.users import (
    UserCreated,
    UserDeleted,
    UserLoggedIn,
    UserTwofaDisabled,
    UserTwofaEnabled,
)
from kernel.errors import InvalidInput, NotFound
from services.command_api.decider import Decider

USER_NOT_FOUND = "User not found"
ALREADY_ENABLED = "Two-factor authentication is already enabled."  # users.twoFAAlreadyEnabled
# listmonk answers a disable without 2FA with this text (users.twoFANotEnabled).
NOT_ENABLED = "Enable 2FA for additional security when logging into your account."


class RecordLogin(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    twofa: bool
    at: datetime


class EnableTwofa(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    at: datetime


class DisableTwofa(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    at: datetime


LoginCommand = RecordLogin | EnableTwofa | DisableTwofa


class Unknown(msgspec.Struct, frozen=True):
    """No such user (never created, or deleted)."""


class Known(msgspec.Struct, frozen=True, kw_only=True):
    user_id: int
    twofa: bool = False


LoginState = Unknown | Known


def decide(state: LoginState, command: LoginCommand) -> list[Event]:
    if not isinstance(state, Known):
        raise NotFound(USER_NOT_FOUND)
    if isinstance(command, RecordLogin):
        return [UserLoggedIn(user_id=state.user_id, twofa=command.twofa, at=command.at)]
    if isinstance(command, EnableTwofa):
        if state.twofa:
            raise InvalidInput(ALREADY_ENABLED)
        return [UserTwofaEnabled(user_id=state.user_id, at=command.at)]
    if not state.twofa:
        raise InvalidInput(NOT_ENABLED)
    return [UserTwofaDisabled(user_id=state.user_id, at=command.at)]


def evolve(state: LoginState, event: Event) -> LoginState:
    if isinstance(event, UserCreated):
        return Known(user_id=event.user_id)
    if isinstance(event, UserDeleted):
        return Unknown()
    if isinstance(state, Known):
        if isinstance(event, UserTwofaEnabled):
            return Known(user_id=state.user_id, twofa=True)
        if isinstance(event, UserTwofaDisabled):
            return Known(user_id=state.user_id, twofa=False)
    return state


login_decider: Decider[LoginState, LoginCommand] = Decider(
    initial=Unknown(), decide=decide, evolve=evolve)
