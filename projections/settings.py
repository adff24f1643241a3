"""The ``settings`` read model: the current application settings, one row.

Each ``settings.changed`` holds the whole object, so applying it replaces the row. Secrets stay
sealed here exactly as in the event; ``secret_lengths`` lets the query side show listmonk's
masks without opening them, and the processes that need the secrets open them with the
settings key (``services/live_settings.py``). No row: nothing was ever changed, listmonk's
defaults apply (``readmodels/settings.py``).
"""

from __future__ import annotations

import msgspec
from psycopg import sql

from events.settings import SettingsChanged
from events.store import RecordedEvent
from projections.base import Statement, Tables

SETTINGS = "settings"


class SettingsProjection:
    """The settings in force: what ``GET /api/settings`` and every process's live settings
    read."""

    name = "settings"
    categories: tuple[str, ...] = ("settings",)
    tables: tuple[str, ...] = (SETTINGS,)

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        return [sql.SQL(
            "CREATE TABLE {} ("
            " id smallint PRIMARY KEY CHECK (id = 1),"
            " settings jsonb NOT NULL,"
            " key_id integer NOT NULL,"
            " secret_lengths jsonb NOT NULL,"
            " process_defaults text[] NOT NULL,"
            " version integer NOT NULL,"
            " updated_at timestamptz NOT NULL)"
        ).format(t[SETTINGS])]

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        e = event.decode()
        if not isinstance(e, SettingsChanged):
            return []
        return [(
            sql.SQL(
                "INSERT INTO {} (id, settings, key_id, secret_lengths, process_defaults,"
                " version, updated_at) VALUES (1, %s::jsonb, %s, %s::jsonb, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings,"
                " key_id = EXCLUDED.key_id, secret_lengths = EXCLUDED.secret_lengths,"
                " process_defaults = EXCLUDED.process_defaults, version = EXCLUDED.version,"
                " updated_at = EXCLUDED.updated_at"
            ).format(t[SETTINGS]),
            (msgspec.json.encode(e.settings).decode(), e.key_id,
             msgspec.json.encode(e.secret_lengths).decode(), list(e.process_defaults),
             event.version, e.at),
        )]
