"""The command that changes the settings. Uuids and time arrive on it (the route takes them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from events.settings import AppSettings


class SettingsChange(msgspec.Struct, frozen=True, kw_only=True):
    """What a PUT asked for, before the stored settings are known (the handler's input).

    ``given`` holds the top-level keys sent; ``fresh_uuids`` are for items sent without one;
    ``process_values`` the process settings' ``app.root_url`` and ``app.from_email``."""

    given: dict[str, Any]
    fresh_uuids: list[str] = []
    process_values: dict[str, str]
    at: datetime


class ChangeSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Make ``settings`` (bound, uuids assigned, every secret sealed) the settings.

    ``secret_lengths`` and ``key_id`` describe its sealed secrets; ``process_values`` the
    process settings the keys following them compare with."""

    settings: AppSettings
    secret_lengths: dict[str, int] = {}
    key_id: int = 0
    process_values: dict[str, str]
    at: datetime
