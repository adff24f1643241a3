"""A campaign's ``media`` (attachments): the requested ids resolved to the files that exist,
read from their own streams (``media-<id>``), with each file's name copied into the content
(kept after the file is deleted, as listmonk's ``campaign_media`` keeps it). docs/media.md.
"""

from __future__ import annotations

from dataclasses import replace

import msgspec

from services.command_api.campaigns.binding import CampaignRequest
from services.command_api.media.handlers import live_media
from services.command_api.store import EventStore


async def with_media(store: EventStore, request: CampaignRequest) -> CampaignRequest:
    """``request`` with its ``media`` set to the existing files among the ids it asked for
    (unknown ids are ignored, as listmonk does); unchanged when it asked for none."""
    if request.media_ids is None:
        return request
    media = await live_media(store, request.media_ids)
    return replace(request, patch=msgspec.structs.replace(request.patch, media=media))
