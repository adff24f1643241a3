"""The sender's place in the topology until campaign delivery lands (the sender issue).

``postlog serve sender`` attaches the durable JetStream consumer ``sender`` to the campaign
events (``<prefix>.campaign.>``), logs each one and acknowledges it. Delivery itself (rendering,
SMTP/postback messengers, progress events) arrives with ``services/sender``, which takes over this
consumer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats.errors
import structlog
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from kernel.nats import connect
from kernel.settings import Settings

log = structlog.get_logger(__name__)

CONSUMER = "sender"
FETCH_BATCH = 50
FETCH_WAIT_SECONDS = 1.0


async def _listen(sub: nats.js.JetStreamContext.PullSubscription, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            messages = await sub.fetch(FETCH_BATCH, timeout=FETCH_WAIT_SECONDS)
        except nats.errors.TimeoutError:
            continue
        for msg in messages:
            headers = msg.headers or {}
            log.info(
                "campaign_event_received",
                subject=msg.subject,
                event_id=headers.get("Nats-Msg-Id"),
                note="delivery arrives with the sender service",
            )
            await msg.ack()


@asynccontextmanager
async def campaign_listener(settings: Settings) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Consume campaign events with the durable ``sender`` consumer until the block exits."""
    nc = await connect(settings, "sender")
    stop = asyncio.Event()
    try:
        sub = await nc.jetstream().pull_subscribe(
            f"{settings.nats_prefix}.campaign.>",
            durable=CONSUMER,
            stream=settings.stream_name,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
        )
        task = asyncio.create_task(_listen(sub, stop), name="sender")
        try:
            yield [task]
        finally:
            stop.set()
            await asyncio.wait([task], timeout=FETCH_WAIT_SECONDS * 3)
            task.cancel()
            # Draining a connection that still holds a pull subscription waits out the whole
            # drain timeout (30 s, past compose's 10 s grace); unsubscribe it first.
            await sub.unsubscribe()
    finally:
        await nc.drain()
