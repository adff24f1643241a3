"""What a campaign command needs from outside the campaign's stream, read on the command side.

- The lists a request names, from their own streams (never stale): their names are copied
  into the campaign.
- The template: the one requested if its stream shows it alive, else the default campaign
  template (the last ``template.default_set`` in the log, checked against its stream).
- The audience when sending starts, counted as listmonk counts it: distinct subscribers of the
  campaign's lists that are not blocklisted, where a double opt-in list counts only confirmed
  subscriptions and a single opt-in list anything not unsubscribed; an opt-in campaign counts
  the unconfirmed subscriptions of its double opt-in lists. The subscriptions come from the
  read models (``readmodel.subscribers``, ``subscriber_lists``): the figure is the estimate
  listmonk shows too; the sender selects the actual recipients. When those read models do not
  exist yet (a fresh install before its projector ran) the count is 0 instead of an error.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row

from events.campaigns import CampaignList
from events.lists import ListCreated
from events.store import read_stream
from services.command_api.campaigns.commands import Audience, ListRef
from services.command_api.campaigns.decider import Live
from services.command_api.decider import load
from services.command_api.lists.decider import Active as ActiveList
from services.command_api.lists.decider import list_decider
from services.command_api.lists.decider import stream_id as list_stream
from services.command_api.templates.decider import Active as ActiveTemplate
from services.command_api.templates.decider import stream_id as template_stream
from services.command_api.templates.decider import template_decider

log = structlog.get_logger(__name__)

TEMPLATE_NOT_FOUND = "Template not found"

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


async def tables_exist(conn: psycopg.AsyncConnection[Any], *names: str) -> bool:
    """Whether every ``readmodel.<name>`` table exists."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT bool_and(to_regclass('readmodel.' || n) IS NOT NULL) FROM unnest(%s::text[]) n",
        (list(names),))
    row = await cur.fetchone()
    return bool(row and row[0])


async def live_list(conn: psycopg.AsyncConnection[Any], list_id: int) -> ListRef | None:
    """The list as its stream tells it, ``None`` if it does not exist (or no longer)."""
    recorded = await read_stream(conn, list_stream(list_id))
    events = [r.decode() for r in recorded]
    state = list_decider.fold(events)
    if not isinstance(state, ActiveList):
        return None
    first = events[0]
    return ListRef(id=list_id, name=state.name,
                   uuid=first.uuid if isinstance(first, ListCreated) else "",
                   list_type=state.list_type, optin=state.optin)


async def resolve_lists(
    conn: psycopg.AsyncConnection[Any], list_ids: tuple[int, ...],
    current: list[CampaignList] | None = None,
) -> tuple[ListRef, ...]:
    """The requested lists that exist. A list the campaign already has keeps its place (and
    its recorded name) after the list itself was deleted."""
    kept = {entry.id: entry for entry in current or []}
    found: list[ListRef] = []
    for list_id in dict.fromkeys(list_ids):
        ref = await live_list(conn, list_id)
        if ref is None and list_id in kept:
            ref = ListRef(id=list_id, name=kept[list_id].name)
        if ref is not None:
            found.append(ref)
    return tuple(found)


async def default_template_id(conn: psycopg.AsyncConnection[Any]) -> int | None:
    """The default campaign template: the last one made default, if its stream agrees."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT (data->>'template_id')::bigint FROM eventlog.events"
        " WHERE category = 'template' AND type = 'template.default_set'"
        " ORDER BY global_position DESC LIMIT 1")
    row = await cur.fetchone()
    if row is None:
        return None
    state, _ = await load(conn, template_stream(int(row[0])), template_decider)
    return int(row[0]) if isinstance(state, ActiveTemplate) and state.is_default else None


async def template_exists(conn: psycopg.AsyncConnection[Any], template_id: int) -> bool:
    state, _ = await load(conn, template_stream(template_id), template_decider)
    return isinstance(state, ActiveTemplate)


async def resolve_template(
    conn: psycopg.AsyncConnection[Any], requested: int | None, current: int | None = None
) -> tuple[int | None, str]:
    """``(template id, problem)``: the requested template (``problem`` says if it does not
    exist), else the current one while it exists, else the default template."""
    if requested is not None:
        if await template_exists(conn, requested):
            return requested, ""
        return requested, TEMPLATE_NOT_FOUND
    if current is not None and await template_exists(conn, current):
        return current, ""
    return await default_template_id(conn), ""


async def compute_audience(conn: psycopg.AsyncConnection[Any], campaign: Live) -> Audience:
    """Who the campaign goes to if it starts now, and the template to render it with."""
    template_id, _ = await resolve_template(conn, None, campaign.content.template_id)
    lists = [ref for ref in [await live_list(conn, entry.id) for entry in campaign.content.lists]
             if ref is not None]
    ids = tuple(ref.id for ref in lists)
    if not await tables_exist(conn, "subscribers", "subscriber_lists"):
        log.warning("campaign_audience_unknown", campaign_id=campaign.campaign_id,
                    reason="subscriber read models are missing; to_send recorded as 0")
        return Audience(list_ids=ids, template_id=template_id)
    cur = await conn.cursor(row_factory=tuple_row).execute(_AUDIENCE, {
        "ids": list(ids), "optins": [ref.optin for ref in lists],
        "type": campaign.campaign_type})
    row = await cur.fetchone()
    to_send, max_id = (int(row[0]), int(row[1])) if row else (0, 0)
    return Audience(list_ids=ids, to_send=to_send, max_subscriber_id=max_id,
                    template_id=template_id)
