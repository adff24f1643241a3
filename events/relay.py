"""The relay: publishes the event log (the outbox) to JetStream, in log order, at least once.

One relay per database and stream leads, chosen by a session-level Postgres advisory lock held
on a dedicated connection; others stand by and retry, so running it twice is safe. The leader
reads batches after its checkpoint (``eventlog.checkpoints``, name ``relay:<stream>``) with
``read_all`` (never skipping a late commit), publishes them pipelined and moves the checkpoint
only once every message of the batch is acked. A re-publish after a crash is dropped by
JetStream's ``Nats-Msg-Id`` dedupe and its duplicate ack counts as success.

Stream order equals log order: within a batch every message but the first carries
``Nats-Expected-Last-Msg-Id`` (its predecessor's id), so if one message is lost the later ones
are rejected instead of stored out of order; the batch is then retried from the checkpoint. The
first message of a batch is published only once everything before it is acked.

Two ways to publish a batch, same messages and headers:

- **Acked one by one** (after taking the lead, and after any failure): every message asks for
  its ack; duplicates (re-publishes after a crash) are counted.
- **Chained** (steady state, once this leader knows the id of the stream's last message because
  it published it): the first message too carries ``Nats-Expected-Last-Msg-Id`` (the previous
  batch's last id), every message but the last is published without asking for an ack, and only
  the last one is acked. The chain makes that ack a proof for the whole batch: a message that was
  not stored makes its successor's expectation fail, and so on to the last, whose error sends the
  batch back to the acked path. This saves the per-message ack (a reply message, a future, a
  JSON parse each), which is most of the relay's cost per event.

``NOTIFY postlog_events`` (sent by the command executor after a commit) wakes the leader; a short
poll is the fallback. NATS or Postgres outages are retried with back-off, never fatal.

No single event can stall the relay: one too large for the server (``max_payload``) or the
stream (``max_msg_size``) is published **by reference** (no body, ``Postlog-Payload: reference``;
consumers read it from the log), and header values and subject tokens are sanitised
(``events/wire.py``): a control character or a space there would be refused on every retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import nats.errors
import psycopg
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import Header, PubAck
from psycopg_pool import AsyncConnectionPool

from events.checkpoints import load_checkpoint, pending_since, save_checkpoint
from events.store import Position, RecordedEvent, read_all
from events.wire import PAYLOAD_SIZE, encode_message, is_reference, subject_token
from kernel.metrics import Metrics
from kernel.nats import connect, ensure_stream
from kernel.settings import Settings

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "postlog_events"  # same channel as services/command_api/executor.py
LAG_LOG_INTERVAL = 30.0
# Publishing rarely waits for the socket, so a batch would hold the event loop for its whole
# length (~50 ms for 500 events): in `postlog up` HTTP requests share that loop. Yield now and
# then.
YIELD_EVERY = 50

AfterPublish = Callable[[Sequence[RecordedEvent]], Awaitable[None]]
# Events published by reference in a batch, with the size their body would have had.
References = list[tuple[RecordedEvent, int]]


def checkpoint_name(settings: Settings) -> str:
    return f"relay:{settings.stream_name}"


def leader_lock_key(settings: Settings) -> int:
    """The advisory-lock key of the relay leader of this stream (locks are per database)."""
    digest = hashlib.blake2b(f"postlog-relay:{settings.stream_name}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


class Backoff:
    """Exponential delays between retries, reset after a success."""

    def __init__(self, initial: float = 0.2, maximum: float = 5.0) -> None:
        self.initial, self.maximum, self._next = initial, maximum, initial

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


async def _sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Relay:
    """Tails the event log and publishes it to JetStream (see the module docstring).

    ``after_publish`` is a test hook called after a batch is acked and before its checkpoint is
    saved; raising there (or killing the process) simulates a crash at the worst moment.
    """

    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool[Any],
        metrics: Metrics,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        ack_timeout: float = 10.0,
        standby_interval: float = 2.0,
        after_publish: AfterPublish | None = None,
    ) -> None:
        self.settings, self.pool, self.metrics = settings, pool, metrics
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.ack_timeout = ack_timeout
        self.standby_interval = standby_interval
        self.after_publish = after_publish
        self.checkpoint_name = checkpoint_name(settings)
        self._nc: Client | None = None
        # One JetStream context per client: each context subscribes to an inbox of its own
        # for publish acks, and a new one per batch left a subscription behind every time.
        self._js: JetStreamContext | None = None
        # The position and id of the stream's last message, when this leader published it
        # (enables chained publishing); None after taking the lead or any failure.
        self._chain_tip: tuple[Position, str] | None = None
        self._stream_ready = False
        # The stream's own message size limit (``max_msg_size``), None when it sets none.
        self._max_msg_size: int | None = None
        # Events the client refused as too large: published by reference from now on.
        self._force_reference: set[uuid.UUID] = set()
        self._lag_logged_at = 0.0
        self._log = log.bind(stream=settings.stream_name)

    async def run(self, stop: asyncio.Event) -> None:
        """Lead (or stand by) until ``stop`` is set; survives every outage by retrying."""
        self._log.info("relay_started", lock_key=leader_lock_key(self.settings))
        backoff = Backoff(maximum=10.0)
        try:
            while not stop.is_set():
                try:
                    conn = await self._become_leader(stop)
                    if conn is None:
                        break
                    try:
                        backoff.reset()
                        await self._lead(conn, stop)
                    finally:
                        with contextlib.suppress(Exception):
                            await conn.close()
                except Exception as exc:
                    delay = backoff.next()
                    event = "relay_leadership_lost" if self.metrics.relay_leader else (
                        "relay_database_unavailable"
                    )
                    self._log.warning(event, error=repr(exc), retry_in=delay)
                    await _sleep_unless_stopped(stop, delay)
                finally:
                    self.metrics.relay_leader = 0
        finally:
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    await self._nc.close()
                self._nc = None
            self._log.info("relay_stopped")

    async def _become_leader(self, stop: asyncio.Event) -> psycopg.AsyncConnection[Any] | None:
        """A dedicated connection holding the leader lock, or None once ``stop`` is set."""
        assert self.settings.database_url, "database_url must be resolved before the relay runs"
        conn = await psycopg.AsyncConnection.connect(
            self.settings.database_url,
            autocommit=True,
            connect_timeout=5,
            application_name="postlog-relay",
        )
        standby_logged = False
        try:
            while not stop.is_set():
                cur = await conn.execute(
                    "SELECT pg_try_advisory_lock(%s)", (leader_lock_key(self.settings),)
                )
                row = await cur.fetchone()
                if row and row[0]:
                    return conn
                if not standby_logged:
                    self._log.info("relay_standby", reason="another relay leads this stream")
                    standby_logged = True
                await _sleep_unless_stopped(stop, self.standby_interval)
        except BaseException:
            await conn.close()
            raise
        await conn.close()
        return None

    async def _lead(self, conn: psycopg.AsyncConnection[Any], stop: asyncio.Event) -> None:
        """Publish until stopped; returns or raises when the lock connection is lost."""
        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self.metrics.relay_leader = 1
        self._chain_tip = None
        self._log.info("relay_leadership_acquired")
        backoff = Backoff()
        while not stop.is_set():
            delay = self.poll_interval
            try:
                js = await self._jetstream(stop)
                if js is None:
                    return
                await self._catch_up(js, stop)
                backoff.reset()
            except Exception as exc:
                self._stream_ready = False
                self._chain_tip = None
                self.metrics.relay_publish_failures_total += 1
                delay = backoff.next()
                self._log.warning("relay_publish_failed", error=repr(exc), retry_in=delay)
            await self._observe_lag()
            await self._wait_for_wakeup(conn, stop, delay)

    async def _wait_for_wakeup(
        self, conn: psycopg.AsyncConnection[Any], stop: asyncio.Event, seconds: float
    ) -> None:
        """Until a NOTIFY, ``seconds`` or ``stop``; raises if the lock connection is gone."""
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            woken = False
            notifies = conn.notifies(timeout=min(remaining, 0.5), stop_after=1)
            async with contextlib.aclosing(notifies):  # releases the connection's lock
                async for _ in notifies:
                    woken = True
            if woken:
                return

    async def _jetstream(self, stop: asyncio.Event) -> JetStreamContext | None:
        """A JetStream context on a connected client whose stream exists (None if stopped)."""
        if self._nc is not None and self._nc.is_closed:
            self._nc = None
        if self._nc is None:
            attempt = asyncio.ensure_future(connect(self.settings, "relay"))
            while not attempt.done():
                await asyncio.wait([attempt], timeout=5)
                if stop.is_set():
                    attempt.cancel()
                    return None
                if not attempt.done():
                    self._log.warning("relay_waiting_for_nats", url=self.settings.nats_url)
            self._nc = attempt.result()
            self._js = None
        if self._js is None:
            self._js = self._nc.jetstream(timeout=self.ack_timeout)
        js = self._js
        if not self._stream_ready:
            await ensure_stream(js, self.settings)
            info = await js.stream_info(self.settings.stream_name)
            limit = info.config.max_msg_size
            self._max_msg_size = limit if limit is not None and limit > 0 else None
            self._stream_ready = True
        return js

    async def _catch_up(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        """Publish batches after the checkpoint while they come back full."""
        while not stop.is_set():
            async with self.pool.connection(timeout=10) as conn:
                checkpoint = await load_checkpoint(conn, self.checkpoint_name)
                batch = await read_all(conn, after=checkpoint, limit=self.batch_size)
            if not batch:
                return
            references: References = []
            duplicates = await self._publish(js, batch, checkpoint, references)
            self.metrics.relay_events_published_total += len(batch) - duplicates
            self.metrics.relay_duplicate_acks_total += duplicates
            self._report_references(references)
            if self.after_publish is not None:
                await self.after_publish(batch)
            async with self.pool.connection(timeout=10) as conn:
                await save_checkpoint(conn, self.checkpoint_name, batch[-1].position)
            self._log.debug(
                "relay_batch_published",
                events=len(batch),
                duplicates=duplicates,
                checkpoint=str(batch[-1].position),
            )
            if len(batch) < self.batch_size:
                return

    async def _publish(
        self, js: JetStreamContext, batch: Sequence[RecordedEvent], checkpoint: Position,
        references: References,
    ) -> int:
        """Publish in log order from this one task, then wait for the acks; returns duplicates.

        Events sent by reference are appended to ``references``.
        """
        tip = self._chain_tip
        self._chain_tip = None  # until this batch is known stored
        if tip is not None and tip[0] == checkpoint and self._nc is not None:
            duplicates = await self._publish_chained(js, self._nc, batch, tip, references)
            self.metrics.relay_chained_batches_total += 1
        else:
            duplicates = await self._publish_acked(js, batch, checkpoint, references)
        self._chain_tip = (batch[-1].position, str(batch[-1].event_id))
        return duplicates

    async def _publish_acked(
        self, js: JetStreamContext, batch: Sequence[RecordedEvent], checkpoint: Position,
        references: References,
    ) -> int:
        """Every message acked; the first one without an expectation."""
        futures: list[asyncio.Future[PubAck]] = []
        try:
            prev, prev_id = checkpoint, ""
            for i, recorded in enumerate(batch):
                if i and not i % YIELD_EVERY:
                    await asyncio.sleep(0)
                subject, payload, headers = self._message(recorded, prev, references)
                if prev_id:
                    headers[Header.EXPECTED_LAST_MSG_ID] = prev_id
                with self._too_large(recorded):
                    futures.append(await js.publish_async(subject, payload, headers=headers))
                prev, prev_id = recorded.position, str(recorded.event_id)
            acks = await asyncio.wait_for(asyncio.gather(*futures), self.ack_timeout)
        finally:
            for future in futures:
                future.cancel()
        return sum(1 for ack in acks if ack.duplicate)

    async def _publish_chained(
        self, js: JetStreamContext, nc: Client, batch: Sequence[RecordedEvent],
        tip: tuple[Position, str], references: References,
    ) -> int:
        """Every message chained to its predecessor (the first to ``tip``); only the last acked.

        Raises (``nats.js.errors.APIError``, wrong last message id) when any of them was not
        stored; the caller then retries the batch acked one by one.
        """
        (prev, prev_id), last = tip, len(batch) - 1
        future: asyncio.Future[PubAck] | None = None
        try:
            for i, recorded in enumerate(batch):
                if i and not i % YIELD_EVERY:
                    await asyncio.sleep(0)
                subject, payload, headers = self._message(recorded, prev, references)
                headers[Header.EXPECTED_LAST_MSG_ID] = prev_id
                with self._too_large(recorded):
                    if i < last:
                        await nc.publish(subject, payload, headers=headers)
                    else:
                        future = await js.publish_async(subject, payload, headers=headers)
                prev, prev_id = recorded.position, str(recorded.event_id)
            assert future is not None
            ack = await asyncio.wait_for(future, self.ack_timeout)
        finally:
            if future is not None:
                future.cancel()
        return 1 if ack.duplicate else 0

    def _message(
        self, recorded: RecordedEvent, prev: Position, references: References
    ) -> tuple[str, bytes, dict[str, str]]:
        """Subject, payload and headers of one event: by reference when too large to send."""
        payload, headers = encode_message(
            recorded, prev, max_size=self._size_limit(),
            by_reference=recorded.event_id in self._force_reference)
        if is_reference(headers):
            references.append((recorded, int(headers[PAYLOAD_SIZE])))
        subject = self.settings.subject_for(
            subject_token(recorded.category), subject_token(recorded.type, dots=True))
        return subject, payload, headers

    def _size_limit(self) -> int | None:
        """The largest message (headers included) both the server and the stream accept."""
        limits = [self._nc.max_payload] if self._nc is not None else []
        if self._max_msg_size is not None:
            limits.append(self._max_msg_size)
        return min(limits, default=None)

    @contextlib.contextmanager
    def _too_large(self, recorded: RecordedEvent) -> Iterator[None]:
        """On ``MaxPayloadError`` (the limit shrank on a reconnect), the retry of the batch
        sends that event by reference."""
        try:
            yield
        except nats.errors.MaxPayloadError:
            self._force_reference.add(recorded.event_id)
            raise

    def _report_references(self, references: References) -> None:
        """Count and log the events of a stored batch that were published by reference."""
        for recorded, size in references:
            self._force_reference.discard(recorded.event_id)
            self.metrics.relay_events_by_reference_total += 1
            self._log.warning(
                "relay_event_by_reference", event_id=str(recorded.event_id),
                position=str(recorded.position), stream_id=recorded.stream_id,
                type=recorded.type, size=size, limit=self._size_limit(),
                reason="too large for NATS: published without its body, read it from the log")

    async def _observe_lag(self) -> None:
        """Set the pending gauges; log the lag now and then while behind."""
        try:
            async with self.pool.connection(timeout=5) as conn:
                checkpoint = await load_checkpoint(conn, self.checkpoint_name)
                events, seconds = await pending_since(conn, checkpoint)
        except Exception as exc:
            self._log.debug("relay_lag_unavailable", error=repr(exc))
            return
        self.metrics.relay_pending_events = events
        self.metrics.relay_pending_seconds = seconds
        now = time.monotonic()
        if events and now - self._lag_logged_at >= LAG_LOG_INTERVAL:
            self._lag_logged_at = now
            self._log.info("relay_lag", events=events, seconds=round(seconds, 3))
