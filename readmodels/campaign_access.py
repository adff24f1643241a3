"""The lists of campaigns, for the list-role checks of campaign writes (listmonk's
``CampaignHasLists``): read from the ``campaigns`` read model, as the GET routes check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from readmodels.campaigns import CAMPAIGN_LISTS, CAMPAIGNS

_QUERY = sql.SQL(
    "SELECT c.id, COALESCE(array_agg(l.list_id) FILTER (WHERE l.list_id IS NOT NULL), '{{}}')"
    " FROM {campaigns} c LEFT JOIN {lists} l ON l.campaign_id = c.id"
    " WHERE c.id = ANY(%s) GROUP BY c.id").format(campaigns=CAMPAIGNS, lists=CAMPAIGN_LISTS)


async def campaigns_lists(pool: AsyncConnectionPool[Any], campaign_ids: Sequence[int]
                          ) -> dict[int, frozenset[int]]:
    """Each existing campaign's list ids (a campaign absent from the result does not exist)."""
    if not campaign_ids:
        return {}
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(_QUERY, (list(dict.fromkeys(campaign_ids)),))
        return {int(cid): frozenset(int(i) for i in ids) for cid, ids in await cur.fetchall()}
