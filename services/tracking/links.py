"""Tracked links: a URL's stable uuid, and registering a campaign's URLs as events.

A link's uuid is ``uuid5(NAMESPACE_URL, url)`` (``events.tracking.link_uuid_for``), so every process
derives the same one for a URL without asking anybody, like listmonk's ``links`` table keyed
by URL. Registering appends ``link.registered`` (with an id from ``eventlog.link_id_seq``) to
the link's own stream ``link-<uuid>`` at version 1; a URL registered before, or by another
process at the same moment, conflicts on that version and is skipped. The ``tracking``
projection turns the events into ``readmodel.links``, which ``GET /link/...`` reads.

Only URLs written literally in a campaign (``{{ TrackLink "https://..." . }}`` or
``https://...@TrackLink``) are registered, when the campaign is compiled. A URL built per
subscriber (``TrackLink (print "https://x?e=" .Subscriber.Email)``) would put personal data in
the log, one link per subscriber: such a URL is left untracked (the message holds it as is).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.base import EventMetadata
from events.store import NO_STREAM, ConcurrencyError, DuplicateEventId, StreamAppend, append
from events.tracking import LinkRegistered, link_stream, link_uuid_for
from events.validation import InvalidText, check_line

log = structlog.get_logger(__name__)

MAX_URL_BYTES = 8192
_METADATA = EventMetadata(actor="system:tracking")


def trackable(url: str) -> bool:
    """Whether ``url`` may be registered (one line, bounded, http(s))."""
    try:
        check_line(url, "url", MAX_URL_BYTES)
    except InvalidText:
        return False
    return url.startswith(("http://", "https://"))


async def _registered(conn: psycopg.AsyncConnection[Any], streams: list[str]) -> set[str]:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT stream_id FROM eventlog.events WHERE stream_id = ANY(%s) AND version = 1",
        (streams,))
    return {row[0] for row in await cur.fetchall()}


async def register_links(pool: AsyncConnectionPool[Any], urls: Iterable[str],
                         at: datetime | None = None) -> dict[str, str]:
    """Register each trackable URL not registered yet; returns url -> link uuid for every
    trackable URL (registered now or before)."""
    wanted = {url: link_uuid_for(url) for url in dict.fromkeys(urls) if trackable(url)}
    if not wanted:
        return {}
    when = at or datetime.now(UTC)
    for _ in range(3):
        async with pool.connection() as conn:
            done = await _registered(conn, [link_stream(u) for u in wanted.values()])
            missing = [(url, u) for url, u in wanted.items() if link_stream(u) not in done]
            if not missing:
                return wanted
            try:
                async with conn.transaction():
                    ids = await _next_ids(conn, len(missing))
                    await append(conn, [
                        StreamAppend(link_stream(u), NO_STREAM,
                                     [LinkRegistered(link_id=i, uuid=u, url=url, at=when)],
                                     [uuid.uuid5(uuid.NAMESPACE_URL, f"link.registered:{u}")])
                        for (url, u), i in zip(missing, ids, strict=True)], _METADATA)
            except (ConcurrencyError, DuplicateEventId):
                continue  # another process registered one of them meanwhile: look again
            log.info("links_registered", count=len(missing))
            return wanted
    return wanted


async def _next_ids(conn: psycopg.AsyncConnection[Any], n: int) -> list[int]:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT nextval('eventlog.link_id_seq') FROM generate_series(1, %s)", (n,))
    return [int(row[0]) for row in await cur.fetchall()]
