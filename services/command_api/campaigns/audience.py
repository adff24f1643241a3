"""What a campaign command needs from outside the campaign's stream, read on the command side.

- The lists a request names, from their own streams (never stale): their names are copied
  into the campaign.
- The template: the one requested if its stream shows it alive, else the default campaign
  template (the last one made default, checked against its stream).
- The audience when sending starts: the campaign's live lists and the estimate of who they
  reach (``CampaignLookups.count_audience``, counted as listmonk counts it over the read models;
  the sender selects the actual recipients). When those read models do not exist yet (a fresh
  install before its projector ran) the count is 0 instead of an error.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from events.campaigns import CampaignList
from services.command_api.campaigns.commands import Audience, ListRef
from services.command_api.campaigns.decider import Live
from services.command_api.campaigns.lookups import CampaignLookups
from services.command_api.lists.decider import Active as ActiveList
from services.command_api.lists.decider import list_decider
from services.command_api.lists.decider import stream_id as list_stream
from services.command_api.store import EventStore
from services.command_api.templates.decider import Active as ActiveTemplate
from services.command_api.templates.decider import stream_id as template_stream
from services.command_api.templates.decider import template_decider

log = structlog.get_logger(__name__)

TEMPLATE_NOT_FOUND = "Template not found"


async def live_lists(store: EventStore, list_ids: Iterable[int]) -> dict[int, ListRef]:
    """The lists among ``list_ids`` that exist, as their streams tell them."""
    wanted = list(dict.fromkeys(list_ids))
    if not wanted:
        return {}
    loaded = await store.load_many([list_stream(i) for i in wanted], list_decider)
    found: dict[int, ListRef] = {}
    for list_id in wanted:
        state, _ = loaded[list_stream(list_id)]
        if isinstance(state, ActiveList):
            found[list_id] = ListRef(id=list_id, name=state.name, uuid=state.uuid,
                                     list_type=state.list_type, optin=state.optin)
    return found


async def resolve_lists(store: EventStore, list_ids: tuple[int, ...],
                        current: list[CampaignList] | None = None) -> tuple[ListRef, ...]:
    """The requested lists that exist. A list the campaign already has keeps its place (and
    its recorded name) after the list itself was deleted."""
    kept = {entry.id: entry for entry in current or []}
    live = await live_lists(store, list_ids)
    found: list[ListRef] = []
    for list_id in dict.fromkeys(list_ids):
        ref = live.get(list_id)
        if ref is None and list_id in kept:
            ref = ListRef(id=list_id, name=kept[list_id].name)
        if ref is not None:
            found.append(ref)
    return tuple(found)


async def template_exists(store: EventStore, template_id: int) -> bool:
    state, _ = await store.load(template_stream(template_id), template_decider)
    return isinstance(state, ActiveTemplate)


async def default_template_id(store: EventStore, lookups: CampaignLookups) -> int | None:
    """The default campaign template: the last one made default, if its stream agrees."""
    candidate = await lookups.default_template_id()
    if candidate is None:
        return None
    state, _ = await store.load(template_stream(candidate), template_decider)
    return candidate if isinstance(state, ActiveTemplate) and state.is_default else None


async def resolve_template(store: EventStore, lookups: CampaignLookups, requested: int | None,
                           current: int | None = None) -> tuple[int | None, str]:
    """``(template id, problem)``: the requested template (``problem`` says if it does not
    exist), else the current one while it exists, else the default template."""
    if requested is not None:
        if await template_exists(store, requested):
            return requested, ""
        return requested, TEMPLATE_NOT_FOUND
    if current is not None and await template_exists(store, current):
        return current, ""
    return await default_template_id(store, lookups), ""


async def compute_audience(store: EventStore, lookups: CampaignLookups, campaign: Live
                           ) -> Audience:
    """Who the campaign goes to if it starts now, and the template to render it with."""
    template_id, _ = await resolve_template(store, lookups, None, campaign.content.template_id)
    live = await live_lists(store, [entry.id for entry in campaign.content.lists])
    lists = [live[entry.id] for entry in campaign.content.lists if entry.id in live]
    ids = tuple(ref.id for ref in lists)
    count = await lookups.count_audience(lists, campaign.campaign_type)
    if count is None:
        log.warning("campaign_audience_unknown", campaign_id=campaign.campaign_id,
                    reason="subscriber read models are missing; to_send recorded as 0")
        return Audience(list_ids=ids, template_id=template_id)
    return Audience(list_ids=ids, to_send=count.to_send,
                    max_subscriber_id=count.max_subscriber_id, template_id=template_id)
