"""The settings decider: pure ``decide`` and ``evolve`` over the one ``settings-app`` stream.

The state is the last stored settings (``Current``) or nothing yet (``Unset``: listmonk's
defaults, with the process settings' root URL and From address). ``decide`` applies listmonk's
rules (``rules.normalise``), works out which keys changed and which keys still follow the
process settings, and answers one ``settings.changed`` with the whole new object, or nothing
when nothing changed.
"""

from __future__ import annotations

from typing import Any

import msgspec

from events.base import Event
from events.settings import (
    PROCESS_KEYS,
    SETTINGS_STREAM,
    AppSettings,
    SettingsChanged,
    default_settings,
    effective,
)
from services.command_api.decider import Decider
from services.command_api.settings.commands import ChangeSettings
from services.command_api.settings.rules import normalise

__all__ = ["SETTINGS_STREAM", "Current", "SettingsState", "Unset", "current_of",
           "settings_decider"]


class Unset(msgspec.Struct, frozen=True):
    """No settings were ever stored: listmonk's defaults apply."""


class Current(msgspec.Struct, frozen=True, kw_only=True):
    """The stored settings (secrets sealed) and what describes them."""

    settings: AppSettings
    key_id: int = 0
    secret_lengths: dict[str, int] = {}
    process_defaults: tuple[str, ...] = ()


SettingsState = Unset | Current


def current_of(state: SettingsState, process_values: dict[str, str]) -> Current:
    """The settings in force: the stored ones with the keys that follow the process settings
    taken from ``process_values``, or the defaults (their secrets still in clear)."""
    root_url, from_email = process_values["app.root_url"], process_values["app.from_email"]
    if isinstance(state, Unset):
        return Current(settings=default_settings(root_url=root_url, from_email=from_email),
                       process_defaults=PROCESS_KEYS)
    return msgspec.structs.replace(state, settings=effective(
        state.settings, state.process_defaults, root_url=root_url, from_email=from_email))


def decide(state: SettingsState, command: ChangeSettings) -> list[Event]:
    """``settings.changed`` with the normalised settings, or ``[]`` if nothing changes;
    ``InvalidInput`` naming the field for settings listmonk would refuse."""
    new = normalise(command.settings)
    before = current_of(state, command.process_values)
    following = tuple(key for key in before.process_defaults
                      if _value(new, key) == _normal(key, command.process_values[key]))
    changed = changed_keys(before.settings, new)
    if not changed and following == before.process_defaults and not isinstance(state, Unset):
        return []
    return [SettingsChanged(settings=new, key_id=command.key_id,
                            secret_lengths=dict(command.secret_lengths), changed=changed,
                            process_defaults=list(following), at=command.at)]


def changed_keys(before: AppSettings, after: AppSettings) -> list[str]:
    """The top-level keys whose value differs (a secret retyped counts: its token is new)."""
    old: dict[str, Any] = msgspec.to_builtins(before)
    new: dict[str, Any] = msgspec.to_builtins(after)
    return [key for key in new if old.get(key) != new[key]]


def _value(settings: AppSettings, key: str) -> str:
    return settings.app_root_url if key == "app.root_url" else settings.app_from_email


def _normal(key: str, value: str) -> str:
    return value.rstrip("/") if key == "app.root_url" else value


def evolve(state: SettingsState, event: Event) -> SettingsState:
    """The settings after ``event``: each ``settings.changed`` holds the whole object."""
    if isinstance(event, SettingsChanged):
        return Current(settings=event.settings, key_id=event.key_id,
                       secret_lengths=dict(event.secret_lengths),
                       process_defaults=tuple(event.process_defaults))
    return state


settings_decider: Decider[SettingsState, ChangeSettings] = Decider(
    initial=Unset(), decide=decide, evolve=evolve)
