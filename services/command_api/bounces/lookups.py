"""The bounce commands' port to the log: a subscriber or a campaign found by its uuid.

A bounce names its subscriber by uuid (the webhook's ``subscriber_uuid``, a bounced e-mail's
``X-Listmonk-Subscriber`` header) and its campaign by uuid; the command side finds their
streams by the uuid in their creation event, in the log itself (not a read model), through the
partial indexes of migration 014 (``events_subscriber_uuid_idx``, ``events_campaign_uuid_idx``).
A deleted campaign is not found (listmonk's ``campaign_id`` is then NULL).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import psycopg
from psycopg.rows import tuple_row

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_uuid(value: str) -> bool:
    return UUID.match(value.lower()) is not None


class BounceLookups(Protocol):
    async def subscriber_by_uuid(self, uuid: str) -> int | None:
        """The id of the subscriber created with ``uuid`` (any case), if any."""
        ...

    async def campaign_by_uuid(self, uuid: str) -> int | None:
        """The id of the campaign created with ``uuid`` (any case), unless it was deleted."""
        ...


_SUBSCRIBER = (
    "SELECT stream_id FROM eventlog.events WHERE type = 'subscriber.created'"
    " AND lower(data->>'uuid') = %s ORDER BY global_position LIMIT 1")
_CAMPAIGN = (
    "SELECT e.stream_id FROM eventlog.events e WHERE e.type = 'campaign.created'"
    " AND lower(e.data->>'uuid') = %s AND NOT EXISTS (SELECT 1 FROM eventlog.events d"
    " WHERE d.stream_id = e.stream_id AND d.type = 'campaign.deleted')"
    " ORDER BY e.global_position LIMIT 1")


class PostgresBounceLookups:
    """``BounceLookups`` on the command's connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], master_key: bytes | None = None
                 ) -> None:
        self._conn = conn

    async def subscriber_by_uuid(self, uuid: str) -> int | None:
        return await self._find(_SUBSCRIBER, uuid)

    async def campaign_by_uuid(self, uuid: str) -> int | None:
        return await self._find(_CAMPAIGN, uuid)

    async def _find(self, query: str, uuid: str) -> int | None:
        if not is_uuid(uuid):
            return None
        cur = await self._conn.cursor(row_factory=tuple_row).execute(query, (uuid.lower(),))
        row = await cur.fetchone()
        return None if row is None else int(str(row[0]).rpartition("-")[2])
