"""Uploaded media: the providers (``providers.py``), what an upload may be (``files.py``) and
the JSON listmonk gives for a media file. Shared by both APIs and the sender; see
docs/media.md.
"""

from __future__ import annotations

from typing import Any

from events.settings import AppSettings
from readmodels.lists import timestamp
from readmodels.media import MediaRow
from services.media_storage.providers import store_for


def render_media(row: MediaRow, settings: AppSettings) -> dict[str, Any]:
    """A media file as listmonk's JSON has it (same keys, same order), its URLs made with the
    upload settings in force (a private bucket's are pre-signed now)."""
    store = store_for(settings, row.provider)
    return {
        "id": row.id,
        "uuid": row.uuid,
        "filename": row.filename,
        "content_type": row.content_type,
        "created_at": timestamp(row.created_at),
        "thumb_url": store.url(row.thumb) if row.thumb else None,
        "provider": row.provider,
        "meta": row.meta,
        "url": store.url(row.key),
    }
