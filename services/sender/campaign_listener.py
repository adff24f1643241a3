"""Campaign events from NATS for the sender: a durable consumer and a per-process subscription.

- The durable JetStream consumer ``sender`` on ``<prefix>.campaign.>`` is shared by every
  sender process: each event goes to one of them, at least once, and is acknowledged only
  after it was handled (a start, a pause, a retry request published while every sender was
  down is handled when one comes back).
- A plain subscription on the same subjects in every process: JetStream stores the relay's
  messages and NATS also hands them to ordinary subscribers, so every process hears of a pause
  or a cancel at once, not only the one the durable consumer picked.

Handling only needs the campaign id and the event type, both in the relay's headers
(``Postlog-Stream-Id``, ``Postlog-Type``), so messages published by reference are handled like
any other; the handler re-reads the campaign's stream anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import nats.errors
import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events.wire import STREAM_ID, TYPE
from kernel.nats import connect
from kernel.settings import Settings

log = structlog.get_logger(__name__)

CONSUMER = "sender"
FETCH_BATCH = 50
FETCH_WAIT_SECONDS = 1.0
RETRY_DELAY_SECONDS = 1.0

OnCampaignEvent = Callable[[int, str], Coroutine[Any, Any, None]]
"""``(campaign id, event type)``: what to do when a campaign event is heard."""


def campaign_of(msg: Msg) -> tuple[int, str] | None:
    """``(campaign id, event type)`` from a relay message's headers; None for anything else."""
    headers = msg.headers or {}
    stream, kind = headers.get(STREAM_ID, ""), headers.get(TYPE, "")
    prefix, _, number = stream.partition("-")
    if prefix != "campaign" or not number.isdigit() or not kind:
        return None
    return int(number), kind


async def _consume(sub: nats.js.JetStreamContext.PullSubscription, handle: OnCampaignEvent,
                   stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            messages = await sub.fetch(FETCH_BATCH, timeout=FETCH_WAIT_SECONDS)
        except (nats.errors.TimeoutError, TimeoutError):  # nothing new (a busy loop: either)
            continue
        except Exception as exc:  # NATS unavailable: the engine polls meanwhile
            log.info("sender_consumer_unavailable", error=repr(exc))
            await asyncio.sleep(RETRY_DELAY_SECONDS)
            continue
        for msg in messages:
            found = campaign_of(msg)
            try:
                if found is not None:
                    await handle(*found)
            except Exception as exc:
                log.warning("campaign_event_not_handled", subject=msg.subject, error=repr(exc))
                with contextlib.suppress(Exception):
                    await msg.nak(delay=RETRY_DELAY_SECONDS)
                continue
            with contextlib.suppress(Exception):
                await msg.ack()


@asynccontextmanager
async def campaign_listener(settings: Settings, handle: OnCampaignEvent
                            ) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Hand every campaign event to ``handle`` until the block exits."""
    nc = await connect(settings, "sender")
    stop = asyncio.Event()
    pending: set[asyncio.Task[None]] = set()
    subject = f"{settings.nats_prefix}.campaign.>"

    async def heard(msg: Msg) -> None:
        found = campaign_of(msg)
        if found is None:
            return
        task = asyncio.create_task(handle(*found))
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        sub = await nc.jetstream().pull_subscribe(
            subject, durable=CONSUMER, stream=settings.stream_name,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
        )
        fanout = await nc.subscribe(subject, cb=heard)
        task = asyncio.create_task(_consume(sub, handle, stop), name="sender-consumer")
        try:
            yield [task]
        finally:
            stop.set()
            await asyncio.wait([task], timeout=FETCH_WAIT_SECONDS * 3)
            task.cancel()
            # Draining a connection that still holds a pull subscription waits out the whole
            # drain timeout (30 s, past compose's 10 s grace); unsubscribe it first.
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await fanout.unsubscribe()
    finally:
        await nc.drain()
