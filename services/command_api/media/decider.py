"""The media decider: pure ``decide`` and ``evolve`` over one ``media-<id>`` stream.

``Absent -> Live -> Deleted``. An upload is recorded once per id; a delete needs a live file
and names its objects, so the route can remove them after the commit.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event
from events.media import MediaDeleted, MediaUploaded, stream_id
from kernel.errors import Conflict, NotFound
from services.command_api.decider import Decider

NOT_FOUND = "not found"  # listmonk's core.ErrNotFound

__all__ = ["NOT_FOUND", "DeleteMedia", "Live", "UploadMedia", "media_decider", "stream_id"]


class UploadMedia(msgspec.Struct, frozen=True, kw_only=True):
    """Record a file already written to its provider."""

    media_id: int
    uuid: str
    provider: str
    key: str
    filename: str
    content_type: str
    size: int
    thumb_key: str = ""
    width: int = 0
    height: int = 0
    at: datetime


class DeleteMedia(msgspec.Struct, frozen=True, kw_only=True):
    media_id: int
    at: datetime


MediaCommand = UploadMedia | DeleteMedia


class Absent(msgspec.Struct, frozen=True):
    """No file was ever recorded with this id."""


class Live(msgspec.Struct, frozen=True, kw_only=True):
    media_id: int
    provider: str
    key: str
    filename: str
    thumb_key: str


class Deleted(msgspec.Struct, frozen=True):
    """The file was deleted; the id is never reused."""


MediaState = Absent | Live | Deleted


def decide(state: MediaState, command: MediaCommand) -> list[Event]:
    if isinstance(command, UploadMedia):
        if not isinstance(state, Absent):
            raise Conflict(f"media {command.media_id} already exists")
        c = command
        return [MediaUploaded(media_id=c.media_id, uuid=c.uuid, provider=c.provider, key=c.key,
                              filename=c.filename, content_type=c.content_type, size=c.size,
                              thumb_key=c.thumb_key, width=c.width, height=c.height, at=c.at)]
    if not isinstance(state, Live):
        raise NotFound(NOT_FOUND)
    return [MediaDeleted(media_id=state.media_id, provider=state.provider, key=state.key,
                         thumb_key=state.thumb_key, at=command.at)]


def evolve(state: MediaState, event: Event) -> MediaState:
    if isinstance(event, MediaUploaded):
        return Live(media_id=event.media_id, provider=event.provider, key=event.key,
                    filename=event.filename, thumb_key=event.thumb_key)
    if isinstance(event, MediaDeleted):
        return Deleted()
    return state


media_decider: Decider[MediaState, MediaCommand] = Decider(
    initial=Absent(), decide=decide, evolve=evolve)
