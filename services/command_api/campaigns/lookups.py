"""What campaign handlers read beyond the ``EventStore``: the port and its PostgreSQL adapter.

The command side reads streams (the lists and templates a campaign names come through
``EventStore.load_many``), but three answers are not in any one stream:

- which template was last made the default (a query over the log's ``template.default_set``
  events; the template's own stream still has the final word);
- how many subscribers a campaign reaches if it starts now: the estimate listmonk shows, so it
  is counted over the subscriber read models;
- whether an archive slug is used by another campaign (the campaigns read model).

``PostgresCampaignLookups`` asks them on the command's own connection, inside its
transaction, as the command did before handlers: a second connection from the same pool per
command could starve the pool under load. ``with_lookups`` binds it to that connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import psycopg
from psycopg.rows import tuple_row

from readmodels.tables import tables_exist
from services.command_api.campaigns.commands import ListRef
from services.command_api.store import Ports


class AudienceCount(NamedTuple):
    """How many distinct subscribers a campaign goes to, and the highest of their ids."""

    to_send: int
    max_subscriber_id: int


class CampaignLookups(Protocol):
    """The reads a campaign command needs that no single stream answers."""

    async def default_template_id(self) -> int | None:
        """The template last made the default campaign template, if any (a candidate: the
        handler checks it against the template's stream)."""
        ...

    async def count_audience(self, lists: Sequence[ListRef], campaign_type: str
                             ) -> AudienceCount | None:
        """The subscribers of ``lists`` a campaign of ``campaign_type`` reaches, counted as
        listmonk counts them; None while the subscriber read models do not exist yet."""
        ...

    async def slug_taken(self, slug: str, campaign_id: int) -> bool:
        """Whether a campaign other than ``campaign_id`` publishes under ``slug``."""
        ...


# listmonk's count: distinct subscribers of the lists that are not blocklisted, where a double
# opt-in list counts only confirmed subscriptions and a single opt-in list anything not
# unsubscribed; an opt-in campaign counts the unconfirmed subscriptions of its double opt-in
# lists.
_AUDIENCE = """
SELECT count(DISTINCT sl.subscriber_id), COALESCE(max(sl.subscriber_id), 0)
FROM unnest(%(ids)s::bigint[], %(optins)s::text[]) AS l(id, optin)
JOIN readmodel.subscriber_lists sl ON sl.list_id = l.id
JOIN readmodel.subscribers s ON s.id = sl.subscriber_id AND s.status <> 'blocklisted'
WHERE CASE
    WHEN %(type)s = 'optin' THEN sl.status = 'unconfirmed' AND l.optin = 'double'
    WHEN l.optin = 'double' THEN sl.status = 'confirmed'
    ELSE sl.status <> 'unsubscribed' END
"""

_LAST_DEFAULT_TEMPLATE = (
    "SELECT (data->>'template_id')::bigint FROM eventlog.events"
    " WHERE category = 'template' AND type = 'template.default_set'"
    " ORDER BY global_position DESC LIMIT 1")

_SLUG_TAKEN = (
    "SELECT to_regclass('readmodel.campaigns') IS NOT NULL AND EXISTS (SELECT 1 FROM"
    " readmodel.campaigns WHERE archive_slug = %s AND id <> %s)")


class PostgresCampaignLookups:
    """``CampaignLookups`` on one connection (the command's, inside its transaction)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def default_template_id(self) -> int | None:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(_LAST_DEFAULT_TEMPLATE)
        row = await cur.fetchone()
        return int(row[0]) if row is not None else None

    async def count_audience(self, lists: Sequence[ListRef], campaign_type: str
                             ) -> AudienceCount | None:
        if not await tables_exist(self.conn, "subscribers", "subscriber_lists"):
            return None
        cur = await self.conn.cursor(row_factory=tuple_row).execute(_AUDIENCE, {
            "ids": [ref.id for ref in lists], "optins": [ref.optin for ref in lists],
            "type": campaign_type})
        row = await cur.fetchone()
        return AudienceCount(int(row[0]), int(row[1])) if row else AudienceCount(0, 0)

    async def slug_taken(self, slug: str, campaign_id: int) -> bool:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            _SLUG_TAKEN, (slug, campaign_id))
        row = await cur.fetchone()
        return bool(row and row[0])




LOOKUPS: Ports = {"lookups": lambda conn, master_key: PostgresCampaignLookups(conn)}
"""The port ``lookups`` the executor builds on the command's transaction for this area's
handlers (``execute_handler(..., ports=LOOKUPS)``)."""
