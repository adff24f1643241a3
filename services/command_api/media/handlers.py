"""Command handlers of media: record an upload, delete a file, and find the files a campaign
names (from their own streams).

The bytes are not the handlers' business: the route writes them to the provider before
``record_upload`` runs and removes them after ``delete_media`` committed (docs/media.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from events.campaigns import CampaignMedia
from services.command_api.media.decider import (
    DeleteMedia,
    Live,
    UploadMedia,
    media_decider,
    stream_id,
)
from services.command_api.store import EventStore, decide_on

MEDIA_ID_SEQUENCE = "eventlog.media_id_seq"


@dataclass(frozen=True)
class StoredObjects:
    """What an upload wrote, to be recorded under a new id."""

    command: UploadMedia  # media_id 0: taken from the sequence by the handler


async def record_upload(stored: StoredObjects, store: EventStore) -> dict[str, Any]:
    """``{"media_id": id}`` of the new file."""
    media_id = await store.next_id(MEDIA_ID_SEQUENCE)
    command = msgspec.structs.replace(stored.command, media_id=media_id)
    await decide_on(store, stream_id(media_id), media_decider, command)
    return {"media_id": media_id}


async def delete_media(command: DeleteMedia, store: EventStore) -> dict[str, Any]:
    """Delete a live file (404 otherwise); the answer names the objects to remove."""
    append = await decide_on(store, stream_id(command.media_id), media_decider, command)
    event = append.events[0]
    return {"media_id": command.media_id, "provider": getattr(event, "provider", ""),
            "key": getattr(event, "key", ""), "thumb_key": getattr(event, "thumb_key", "")}


async def live_media(store: EventStore, media_ids: Iterable[int]) -> list[CampaignMedia]:
    """The files among ``media_ids`` that exist, in the order asked, each once (listmonk
    ignores ids of files that do not exist)."""
    wanted = [i for i in dict.fromkeys(media_ids) if i > 0]
    if not wanted:
        return []
    loaded = await store.load_many([stream_id(i) for i in wanted], media_decider)
    found: list[CampaignMedia] = []
    for media_id in wanted:
        state, _ = loaded[stream_id(media_id)]
        if isinstance(state, Live):
            found.append(CampaignMedia(id=media_id, filename=state.filename))
    return found
