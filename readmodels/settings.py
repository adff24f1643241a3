"""Reads of the ``settings`` read model: the stored settings, secrets still sealed.

Both APIs and every process's live settings read the one row; no row means nothing was ever
changed, and listmonk's defaults (with the process settings' root URL and From address) are in
force. ``masked_json`` is what ``GET /api/settings`` answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.settings import PROCESS_KEYS, AppSettings, default_settings, effective
from events.settings_secrets import masked


@dataclass(frozen=True)
class StoredSettings:
    """The settings in force: ``settings`` with its secrets sealed (or listmonk's defaults,
    in clear, when ``version`` is 0: nothing stored yet)."""

    settings: AppSettings
    key_id: int = 0
    secret_lengths: dict[str, int] = field(default_factory=dict)
    process_defaults: tuple[str, ...] = PROCESS_KEYS
    version: int = 0
    updated_at: datetime | None = None


async def fetch_settings(pool: AsyncConnectionPool[Any], *, root_url: str, from_email: str
                         ) -> StoredSettings:
    """The settings in force, the keys that follow the process settings filled from
    ``root_url`` and ``from_email``."""
    async with pool.connection() as conn:
        return await read_settings(conn, root_url=root_url, from_email=from_email)


async def read_settings(conn: psycopg.AsyncConnection[Any], *, root_url: str, from_email: str
                        ) -> StoredSettings:
    """``fetch_settings`` on a connection of the caller's."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT settings::text, key_id, secret_lengths::text, process_defaults, version,"
        " updated_at FROM readmodel.settings WHERE id = 1")
    row = await cur.fetchone()
    if row is None:
        return StoredSettings(settings=default_settings(root_url=root_url,
                                                        from_email=from_email))
    stored = msgspec.json.decode(row[0], type=AppSettings)
    following = tuple(row[3] or ())
    return StoredSettings(
        settings=effective(stored, following, root_url=root_url, from_email=from_email),
        key_id=int(row[1]), secret_lengths=msgspec.json.decode(row[2], type=dict[str, int]),
        process_defaults=following, version=int(row[4]), updated_at=row[5])


def masked_json(stored: StoredSettings) -> dict[str, Any]:
    """The settings as ``GET /api/settings`` shows them: every secret as ``•`` per character."""
    out: dict[str, Any] = msgspec.to_builtins(masked(stored.settings, stored.secret_lengths))
    return out
