"""Events of the ``media`` category (uploaded files: listmonk's media library); stream
``media-<id>``.

An event names the stored object, never its bytes: the provider that holds it (``filesystem``
or ``s3``), the object's ``key`` there (the file's name in ``upload.filesystem.upload_path``,
or the whole key in the bucket, ``upload.s3.bucket_path`` included, as written), the name shown
to users, the content type postlog determined from the bytes, the size, the thumbnail's key and
an image's width and height. The bytes are written to the provider before the event is
appended (``services/command_api/media``), and removed after ``media.deleted`` commits.

Uploaded files are the administrators' own material, not subscribers' personal data, so
nothing here is sealed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

from events.base import Event

CATEGORY = "media"


def stream_id(media_id: int) -> str:
    return f"media-{media_id}"


class MediaUploaded(Event, tag="media.uploaded", kw_only=True, frozen=True):
    """A file was uploaded (``POST /api/media``) and stored at ``provider``/``key``.

    ``thumb_key`` is the thumbnail's key (``""``: none; an SVG is its own thumbnail, so its
    ``thumb_key`` equals ``key``). ``width`` and ``height`` are an image's (0 otherwise).
    """

    CATEGORY = "media"
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


class MediaDeleted(Event, tag="media.deleted", kw_only=True, frozen=True):
    """The file was deleted (``DELETE /api/media/:id``); its objects (``key``, ``thumb_key``)
    are removed from ``provider`` once this is recorded. Last event of its stream."""

    CATEGORY = "media"
    media_id: int
    provider: str
    key: str
    thumb_key: str = ""
    at: datetime


MediaEvent = MediaUploaded | MediaDeleted


class StoredMedia(msgspec.Struct, frozen=True, kw_only=True):
    """A live media file as its stream tells it (what the sender attaches)."""

    media_id: int
    provider: str
    key: str
    filename: str
    content_type: str
    size: int


def fold_media(events: Iterable[Event]) -> StoredMedia | None:
    """The file a ``media-<id>`` stream describes now; None if never uploaded or deleted."""
    found: StoredMedia | None = None
    for event in events:
        if isinstance(event, MediaUploaded):
            found = StoredMedia(media_id=event.media_id, provider=event.provider, key=event.key,
                                filename=event.filename, content_type=event.content_type,
                                size=event.size)
        elif isinstance(event, MediaDeleted):
            found = None
    return found
