"""The settings key as a port of the command's transaction, and its PostgreSQL adapter.

A settings handler seals secrets with the installation's settings key
(``events.settings_secrets``), created on first use in the command's transaction. Tests pass a
fake with a fixed key.
"""

from __future__ import annotations

from typing import Any, Protocol

import psycopg

from events.settings_secrets import ensure_settings_key
from services.command_api.store import Ports


class SettingsKeys(Protocol):
    async def current(self) -> tuple[int, bytes]:
        """``(key_id, key)`` of the key new secrets are sealed with (made if missing)."""
        ...


class PostgresSettingsKeys:
    """``SettingsKeys`` over the command's connection (the key wrapped with the master key)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], master_key: bytes | None) -> None:
        self.conn = conn
        self.master_key = master_key

    async def current(self) -> tuple[int, bytes]:
        return await ensure_settings_key(self.conn, master_key=self.master_key)


SETTINGS_KEYS: Ports = {"settings_keys": PostgresSettingsKeys}
"""The port ``settings_keys`` the executor builds for the settings handlers."""
