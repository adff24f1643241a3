"""A campaign's attachments (its ``media``), loaded once per campaign run and sent with every
message, as listmonk's manager attaches a campaign's media.

The files are read from their own streams (``media-<id>``: provider, key, name, content type)
and fetched from their provider with the upload settings in force. A file deleted since it was
attached is left out (listmonk's ``campaign_media.media_id`` turns NULL and is skipped); one
that cannot be fetched stops the run: the campaign is paused with the reason, since sending
without the attachment would not be the campaign that was asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from psycopg_pool import AsyncConnectionPool

from events.campaigns import CampaignMedia
from events.media import fold_media, stream_id
from events.message_storage import AttachmentFile
from events.settings import AppSettings
from events.store import read_streams
from services.media_storage.providers import StorageError, store_for
from services.sender.campaign_message import PreparedCampaign


class MediaUnavailable(Exception):
    """An attachment could not be fetched; the message is the campaign's pause reason."""


async def load_attachments(pool: AsyncConnectionPool[Any], media: Sequence[CampaignMedia],
                           settings: AppSettings) -> tuple[AttachmentFile, ...]:
    """The campaign's files that still exist, in the campaign's order."""
    if not media:
        return ()
    async with pool.connection() as conn:
        streams = await read_streams(conn, [stream_id(item.id) for item in media])
    files: list[AttachmentFile] = []
    for item in dict.fromkeys(media):
        stored = fold_media(r.decode() for r in streams.get(stream_id(item.id), []))
        if stored is None:
            continue
        try:
            data = await store_for(settings, stored.provider).get(stored.key)
        except StorageError as exc:
            raise MediaUnavailable(
                f"Error fetching attachment {item.id} ({stored.filename}): {exc}") from None
        files.append(AttachmentFile(name=stored.filename, content_type=stored.content_type,
                                    content=data))
    return tuple(files)


def with_attachments(prepared: PreparedCampaign, files: tuple[AttachmentFile, ...]
                     ) -> PreparedCampaign:
    return replace(prepared, attachments=files) if files else prepared
