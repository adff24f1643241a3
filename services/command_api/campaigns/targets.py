"""The lists a campaign targets, read from its stream: what a campaign e-mail's unsubscribe
link leaves (``services/command_api/public/handlers.py``)."""

from __future__ import annotations

from events.campaigns import CampaignCreated
from services.command_api.campaigns.decider import Live, campaign_decider
from services.command_api.store import EventStore


async def campaign_list_ids(store: EventStore, campaign_uuid: str) -> list[int]:
    """The lists a campaign targets now; none for an unknown or deleted campaign (such as the
    all-zero uuid of the links in opt-in e-mails)."""
    streams = await store.find_streams(CampaignCreated, "uuid", [campaign_uuid])
    found = streams.get(campaign_uuid.lower())
    if found is None:
        return []
    state, _ = await store.load(found, campaign_decider)
    if not isinstance(state, Live):
        return []
    return [item.id for item in state.content.lists if item.id]
