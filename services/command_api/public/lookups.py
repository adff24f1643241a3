"""What the public commands look up from the event log inside their transaction.

Links in e-mails name the campaign by uuid, which only its ``campaign.created`` event holds;
campaigns are few, so this reads the creation events of that category.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import tuple_row


async def campaign_list_ids(conn: psycopg.AsyncConnection[Any], campaign_uuid: str) -> list[int]:
    """The lists a campaign targets now; none for an unknown or deleted campaign (such as the
    all-zero uuid of the links in opt-in e-mails)."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT e.type, e.data->'content'->'lists' FROM eventlog.events e"
        " WHERE e.stream_id = (SELECT stream_id FROM eventlog.events"
        "   WHERE category = 'campaign' AND type = 'campaign.created'"
        "   AND lower(data->>'uuid') = %s ORDER BY global_position LIMIT 1)"
        " AND e.type IN ('campaign.created', 'campaign.updated', 'campaign.deleted')"
        " ORDER BY e.version DESC LIMIT 1",
        (campaign_uuid.lower(),))
    row = await cur.fetchone()
    if row is None or row[0] == "campaign.deleted" or not isinstance(row[1], list):
        return []
    return [int(item["id"]) for item in row[1] if isinstance(item, dict) and item.get("id")]
