"""The live feed of the log from JetStream, as the projection runner consumes it.

One ephemeral push consumer per runner on ``<prefix>.>`` with ``DeliverPolicy.NEW``, explicit
acknowledgement (``AckPolicy.ALL``: acking a batch's last message acks the batch) and a bound on
unacknowledged messages. NATS is only a fast path: whatever it misses (outage, consumer lost,
messages published before the subscription) the runner reads from Postgres, so the feed may
come and go without consequence. A message the relay published by reference (an event too
large for NATS, ``events/wire.py``) carries no event: it is counted in ``LiveBatch.references``
and the runner reads that event, and what follows it, from Postgres.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import msgspec
import nats.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from events.store import Position, RecordedEvent
from events.wire import POSITION, PayloadByReference, decode_message
from kernel.nats import connect, ensure_stream
from kernel.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class LiveBatch:
    """Messages taken from the feed: the decoded events with the position published before each."""

    items: list[tuple[RecordedEvent, Position]] = field(default_factory=list)
    undecodable: int = 0
    references: int = 0  # published by reference: the events are to be read from Postgres
    skipped: int = 0  # at or before ``applied_through``: acknowledged without decoding
    last: Msg | None = None


class NatsFeed:
    """Connects in the background and (re)subscribes whenever the connection allows."""

    def __init__(self, settings: Settings, *, max_ack_pending: int = 10_000) -> None:
        self._settings = settings
        self._max_ack_pending = max_ack_pending
        self._nc: Client | None = None
        self._sub: JetStreamContext.PushSubscription | None = None
        self._reconnects_seen = 0
        self._connect_task: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._retry_delay = 0.5
        self._paused_until = 0.0

    def start(self) -> None:
        """Begin connecting (in the background; NATS may be down for a long time)."""
        if self._settings.nats_url and self._connect_task is None:
            self._connect_task = asyncio.create_task(self._connect(), name="projector-nats")

    @property
    def subscribed(self) -> bool:
        return self._sub is not None and self._nc is not None and self._nc.is_connected

    async def ensure_subscribed(self) -> bool:
        """Subscribe when possible; True when a new subscription began (events may be missed)."""
        nc = self._nc
        now = time.monotonic()
        if nc is None or not nc.is_connected or now < self._retry_at or now < self._paused_until:
            return False
        if self._sub is not None and nc.stats["reconnects"] == self._reconnects_seen:
            return False
        await self._drop()
        try:
            js = nc.jetstream(timeout=5)
            await ensure_stream(js, self._settings)
            self._sub = await js.subscribe(
                self._settings.subject_wildcard,
                stream=self._settings.stream_name,
                manual_ack=True,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.NEW,
                    ack_policy=AckPolicy.ALL,
                    ack_wait=30,
                    max_ack_pending=self._max_ack_pending,
                    inactive_threshold=30,  # the server removes it after a crash
                    mem_storage=True,
                    num_replicas=1,
                ),
            )
        except Exception as exc:
            self._retry_at = time.monotonic() + self._retry_delay
            self._retry_delay = min(self._retry_delay * 2, 30.0)
            log.warning("projection_feed_subscribe_failed", error=str(exc))
            return False
        self._reconnects_seen = nc.stats["reconnects"]
        self._retry_delay = 0.5
        log.info("projection_feed_subscribed", stream=self._settings.stream_name)
        return True

    async def next_batch(
        self, wait: float, limit: int, applied_through: Position | None = None
    ) -> LiveBatch:
        """Wait up to ``wait`` seconds for a message, then take what else is already buffered.

        Messages whose ``Postlog-Position`` header is at or before ``applied_through`` (what
        every projection has applied, e.g. read from Postgres while the relay was behind) are
        only counted, not decoded: the runner would skip them as duplicates anyway.
        """
        batch = LiveBatch()
        sub = self._sub
        if sub is None:
            return batch
        try:
            msgs = [await sub.next_msg(timeout=wait)]
            while len(msgs) < limit and sub.pending_msgs > 0:
                msgs.append(await sub.next_msg(timeout=1))
        except nats.errors.TimeoutError:
            return batch
        except nats.errors.Error as exc:
            log.warning("projection_feed_lost", error=str(exc))
            await self._drop()
            return batch
        batch.last = msgs[-1]
        for msg in msgs:
            if applied_through is not None and _applied(msg, applied_through):
                batch.skipped += 1
                continue
            try:
                batch.items.append(decode_message(msg.data, msg.headers))
            except PayloadByReference as ref:
                batch.references += 1  # expected (the relay logged it): no warning here
                log.debug("projection_feed_reference", position=str(ref.reference.position))
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                batch.undecodable += 1
                log.warning("projection_feed_undecodable", subject=msg.subject, error=str(exc))
        return batch

    async def ack(self, batch: LiveBatch) -> None:
        """Acknowledge every message of the batch (after its transaction committed)."""
        if batch.last is None:
            return
        try:
            await batch.last.ack()
        except Exception as exc:  # unacked messages are redelivered and skipped as duplicates
            log.debug("projection_feed_ack_failed", error=str(exc))

    async def pause(self, seconds: float) -> None:
        """Unsubscribe for ``seconds`` (the runner follows the Postgres log meanwhile).

        Used while the feed only delivers old events (a relay far behind): receiving them
        would cost as much as reading them, for nothing. Subscribing again afterwards starts
        with new messages; the runner catches up from Postgres as after any new subscription.
        """
        self._paused_until = time.monotonic() + seconds
        sub, name = self._sub, None
        if sub is not None:
            log.info("projection_feed_paused", seconds=seconds,
                     reason="the feed is behind the log; reading Postgres directly")
            with contextlib.suppress(Exception):
                name = (await asyncio.wait_for(sub.consumer_info(), 2)).name
        await self._drop()
        if name and self._nc is not None:  # free the server now, not after the idle timeout
            with contextlib.suppress(Exception):
                await self._nc.jetstream(timeout=2).delete_consumer(
                    self._settings.stream_name, name)

    async def check_alive(self) -> None:
        """Drop the subscription if its consumer is gone (e.g. the server restarted)."""
        if self._sub is None:
            return
        try:
            await self._sub.consumer_info()
        except Exception as exc:
            log.warning("projection_feed_consumer_gone", error=str(exc))
            await self._drop()

    async def close(self) -> None:
        await self._drop()
        if self._connect_task is not None:
            self._connect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connect_task
            self._connect_task = None
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None

    async def _drop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _connect(self) -> None:
        delay = 0.5
        while self._nc is None:
            try:
                self._nc = await connect(self._settings, "projector")
            except Exception as exc:
                log.warning("projection_feed_connect_failed", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)


def _applied(msg: Msg, through: Position) -> bool:
    """True if the message's position header says it is at or before ``through``."""
    text = (msg.headers or {}).get(POSITION)
    if not text:
        return False
    try:
        return Position.parse(text) <= through
    except ValueError:
        return False
