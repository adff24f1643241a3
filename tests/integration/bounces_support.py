"""Recording bounces in tests the way bounce processing will: ``subscriber.bounce_recorded``
appended to the subscriber's stream with ``meta`` sealed with its key."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from events.base import EventMetadata
from events.bounces import BounceRecorded, BounceType
from events.crypto import encrypt_value, field_aad, load_keys
from events.store import StreamAppend, append, stream_version
from services.runtime import Runtime

_bounce_ids = itertools.count(random.randrange(10**9, 2 * 10**9))


async def record_bounce(runtime: Runtime, subscriber_id: int, *, kind: BounceType = "hard",
                        campaign_id: int | None = None, minutes_ago: int = 0) -> int:
    """Append a bounce the way bounce processing will, and wait until it can be read."""
    async with runtime.pool.connection() as conn:
        async with conn.transaction():
            key = (await load_keys(conn, [subscriber_id]))[subscriber_id]
            bounce_id = next(_bounce_ids)
            stream = f"subscriber-{subscriber_id}"
            event = BounceRecorded(
                subscriber_id=subscriber_id, bounce_id=bounce_id, campaign_id=campaign_id,
                kind=kind, source="demo",
                meta=encrypt_value(key, {"some": "parameter"}, field_aad(subscriber_id, "meta")),
                at=datetime.now(UTC) - timedelta(minutes=minutes_ago))
            position = await append(conn, [StreamAppend(
                stream, await stream_version(conn, stream), [event])], EventMetadata())
        await conn.execute("NOTIFY postlog_events")
    assert await runtime.waiter.wait(position, ["bounces"])
    return bounce_id
