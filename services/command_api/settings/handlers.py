"""The settings command handler: a PUT of the whole object or of one key.

It loads the settings stream, binds what was sent over the settings in force (``binding``),
gives new items their uuids, resolves and seals the secrets (``secrets``), and asks the pure
decider, which applies listmonk's rules and answers the event (or none if nothing changed).
"""

from __future__ import annotations

from typing import Any

from events.settings import SettingsChanged
from events.store import StreamAppend
from services.command_api.settings.binding import assign_uuids, bind
from services.command_api.settings.commands import ChangeSettings, SettingsChange
from services.command_api.settings.decider import SETTINGS_STREAM, current_of, settings_decider
from services.command_api.settings.keys import SettingsKeys
from services.command_api.settings.secrets import resolve_secrets
from services.command_api.store import EventStore


async def change_settings(change: SettingsChange, store: EventStore,
                          settings_keys: SettingsKeys) -> dict[str, Any]:
    """``{"changed": [keys]}``: the top-level keys the command changed (none: no event)."""
    state, version = await store.load(SETTINGS_STREAM, settings_decider)
    current = current_of(state, change.process_values)
    incoming = assign_uuids(bind(change.given, current.settings), change.fresh_uuids)
    key_id, key = await settings_keys.current()
    sealed, lengths = resolve_secrets(incoming, current.settings, current.secret_lengths, key)
    events = settings_decider.decide(state, ChangeSettings(
        settings=sealed, secret_lengths=lengths, key_id=key_id,
        process_values=change.process_values, at=change.at))
    store.append(StreamAppend(SETTINGS_STREAM, version, events))
    return {"changed": [k for e in events if isinstance(e, SettingsChanged) for k in e.changed]}
