"""Single messages delivered: transactional mail, campaign tests, opt-in confirmations and
admin notifications, ahead of campaign mail.

A ``MessageRunner`` per sender process claims due messages from the ``message_deliveries``
read model (``message_leases.MessageLeases``: a lease per message, so two processes never
send the same one), up to ``workers`` at a time, and for each:

1. reads its stream ``message-<uuid>`` (``message_outcomes.fold``): settled already (another
   process recorded it before the read model showed it) means nothing to do;
2. a request (``subscriber.optin_requested``, ``campaign.finished``/``paused``) not yet turned
   into a message waits until the read models it renders from have seen it, then is queued
   (``optin.queue_optin``, ``notifications.queue_notifications``) or skipped, and let go: the
   queued message is claimed again at once, by this process or another;
3. a queued message never tried that waited longer than ``max_age_seconds`` is skipped;
4. otherwise its sealed content is opened with its recipient's key
   (``message_content.open_message``) and sent through the messenger it names, inside
   ``PriorityGate.priority`` so the process's campaign sends on the same transport wait;
5. the outcome is recorded on the message's stream, fenced by the version read in 1
   (``message.delivered``; ``message.failed`` for now, due again after a back-off, or for good;
   ``message.skipped``).

Crash safety: an outcome is recorded after the send, so a process killed in between leaves
the message unrecorded and its lease runs out; the next holder sends it again. At most the
messages in hand (``workers``) are sent twice. A graceful stop (``stop`` set) claims nothing
more and lets the messages in hand finish and be recorded; cancelling ``run`` is a crash
(nothing more is recorded, leases run out). ``after_send`` is a hook between the send and the
record, for the tests that simulate that crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from events.base import Event
from events.message_deliveries import EXPIRED, RECIPIENT_ERASED, MessageSkipped
from events.messages import stream_id
from events.store import START, StreamAppend, read_stream
from projections.listener import ChannelListener
from projections.storage import NOTIFY_CHANNEL, read_checkpoints
from services.sender.campaign_run import MessengerSource
from services.sender.config import SettingsSource
from services.sender.message_content import Unsendable, open_message
from services.sender.message_leases import ClaimedMessage, LostMessage, MessageLeases
from services.sender.message_outcomes import (
    MessageState,
    Outcome,
    RetryPolicy,
    expired,
    fold,
    outcome_of,
)
from services.sender.messengers.base import DeliveryResult, OutgoingMessage
from services.sender.messengers.priority import PriorityGate
from services.sender.notifications import PROJECTIONS as NOTIFICATION_PROJECTIONS
from services.sender.notifications import queue_notifications
from services.sender.optin import PROJECTIONS as OPTIN_PROJECTIONS
from services.sender.optin import queue_optin

log = structlog.get_logger(__name__)

DB_ERRORS = (psycopg.Error, PoolTimeout, OSError)
PROJECTION = "message_deliveries"
AfterSend = Callable[[str, DeliveryResult], Awaitable[None]]


@dataclass(frozen=True)
class MessageTuning:
    """How one process works through single messages; defaults suit production.

    ``workers``: messages in hand at once (what a crash may send twice);
    ``max_age_seconds``: a message or request first picked up later than this after it was
    queued is skipped (stale mail; 0: never); ``lag_retry_seconds``: how soon a request whose
    read models have not caught up is looked at again; ``bug_retry_seconds``: how soon a
    message whose handling raised (a bug, logged) is looked at again; ``quiet_seconds``: the
    least time between a claim that found nothing and the next one."""

    lease_seconds: float = 10.0
    poll_seconds: float = 1.0
    workers: int = 8
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_age_seconds: float = 24 * 3600.0
    lag_retry_seconds: float = 0.2
    bug_retry_seconds: float = 60.0
    quiet_seconds: float = 0.05
    prune_seconds: float = 600.0


def _now() -> datetime:
    return datetime.now(UTC)


class MessageRunner:
    """Delivers single messages in one process until stopped."""

    def __init__(self, pool: AsyncConnectionPool[Any], *, holder: str,
                 settings: SettingsSource, messengers: MessengerSource,
                 gate: PriorityGate | None = None, tuning: MessageTuning | None = None,
                 master_key: bytes | None = None, listen: bool = True,
                 after_send: AfterSend | None = None) -> None:
        self.tuning = tuning or MessageTuning()
        self.pool = pool
        self.settings = settings
        self.messengers = messengers
        self.gate = gate or PriorityGate()
        self.master_key = master_key
        self.leases = MessageLeases(pool, holder, lease_seconds=self.tuning.lease_seconds)
        self.in_hand: set[str] = set()
        self.sent = 0
        self._listen = listen
        self._after_send = after_send
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due messages now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then finish the messages in hand."""
        listener = ChannelListener(self.pool.conninfo, NOTIFY_CHANNEL, self._notified,
                                   on_connect=self._connected, name="sender-messages")
        if self._listen:
            listener.start()
        renewer = asyncio.create_task(self._renew(), name="sender-message-leases")
        log.info("message_sender_started", holder=self.leases.holder,
                 workers=self.tuning.workers)
        try:
            async with asyncio.TaskGroup() as tasks:
                await self._claim_until(stop, tasks)
        finally:
            renewer.cancel()
            await listener.close()
        log.info("message_sender_stopped", holder=self.leases.holder, sent=self.sent)

    async def _claim_until(self, stop: asyncio.Event, tasks: asyncio.TaskGroup) -> None:
        pruned = time.monotonic()
        found_nothing = 0.0  # when a claim last came back empty
        while not stop.is_set():
            # Every projector batch touching subscribers or campaigns wakes us (an import
            # is thousands): after an empty claim, look again at most every quiet_seconds.
            quiet = found_nothing + self.tuning.quiet_seconds - time.monotonic()
            if quiet > 0:
                await asyncio.sleep(quiet)
                if stop.is_set():
                    break
            self._wake.clear()
            free = self.tuning.workers - len(self.in_hand)
            claimed: list[ClaimedMessage] = []
            try:
                claimed = await self.leases.claim(free)
            except DB_ERRORS as exc:
                log.warning("message_claim_failed", error=str(exc))
            if free and not claimed:
                found_nothing = time.monotonic()
            for message in claimed:
                self.in_hand.add(message.message_id)
                tasks.create_task(self._handle(message), name=f"message-{message.message_id}")
            # More may be due: a message leaving our hands wakes the loop to claim again.
            if time.monotonic() - pruned >= self.tuning.prune_seconds:
                pruned = time.monotonic()
                with contextlib.suppress(*DB_ERRORS):
                    await self.leases.prune()
            waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
            await asyncio.wait(waiters, timeout=self.tuning.poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def _handle(self, claimed: ClaimedMessage) -> None:
        """One claimed message to its recorded outcome; never raises but for cancellation."""
        try:
            await self._process(claimed)
        except LostMessage:
            log.info("message_lost", message_id=claimed.message_id)
        except DB_ERRORS as exc:
            log.warning("message_not_recorded", message_id=claimed.message_id, error=str(exc))
        except Exception:  # a bug: look at the message again later, not in a tight loop
            log.exception("message_send_failed", message_id=claimed.message_id)
            with contextlib.suppress(*DB_ERRORS):
                await self.leases.release(claimed.message_id,
                                          after_seconds=self.tuning.bug_retry_seconds)
        finally:
            self.in_hand.discard(claimed.message_id)
            self._wake.set()

    async def _process(self, claimed: ClaimedMessage) -> None:
        message_id = claimed.message_id
        async with self.pool.connection() as conn:
            state = fold(r.decode() for r in await read_stream(conn, stream_id(message_id)))
        if state.settled:
            await self.leases.finish(message_id)
            return
        if state.queued is None:
            await self._queue_request(claimed)
            return
        now = _now()
        if state.attempts == 0 and expired(state.queued.at, now, self.tuning.max_age_seconds):
            await self._skip(message_id, state, self._expired_reason())
            return
        async with self.pool.connection() as conn:
            opened = await open_message(conn, state.queued, master_key=self.master_key)
        if isinstance(opened, Unsendable):
            if opened.erased:
                await self._skip(message_id, state, RECIPIENT_ERASED)
            else:
                await self._record(state, outcome_of(
                    state.queued, state.attempts + 1, state.queued.messenger,
                    DeliveryResult.refused(0, opened.detail), key=None,
                    policy=self.tuning.retry, now=now))
            return
        result = await self._send(state.queued.messenger, opened.message)
        if self._after_send is not None:
            await self._after_send(message_id, result)
        outcome = outcome_of(state.queued, state.attempts + 1, state.queued.messenger, result,
                             key=opened.key, policy=self.tuning.retry, now=_now())
        await self._record(state, outcome)
        if result.delivered:
            self.sent += 1
        log.info("message_sent" if result.delivered else "message_not_delivered",
                 message_id=message_id, kind=claimed.kind, code=result.code,
                 attempt=state.attempts + 1, final=outcome.final)

    async def _send(self, name: str, message: OutgoingMessage) -> DeliveryResult:
        messenger = self.messengers.messenger(name)
        if messenger is None:
            return DeliveryResult.retry_later(0, f"messenger {name} is not enabled")
        try:
            async with self.gate.priority(messenger):
                return await messenger.send(message)
        except Exception as exc:  # a messenger raised (closed meanwhile, a bug): try later
            log.warning("messenger_failed", messenger=name, error=type(exc).__name__)
            return DeliveryResult.retry_later(0, f"messenger {name} failed:"
                                                 f" {type(exc).__name__}")

    async def _record(self, state: MessageState, outcome: Outcome) -> None:
        assert state.queued is not None
        append = StreamAppend(stream_id(state.queued.message_id), state.version,
                              [outcome.event])

        async def build(_conn: psycopg.AsyncConnection[Any]) -> Sequence[StreamAppend]:
            return [append]

        await self.leases.record(state.queued.message_id, build, done=outcome.final,
                                 not_before=outcome.retry_at)

    async def _skip(self, message_id: str, state: MessageState, reason: str) -> None:
        skip = StreamAppend(stream_id(message_id), state.version,
                            [MessageSkipped(message_id=message_id, reason=reason, at=_now())])

        async def build(_conn: psycopg.AsyncConnection[Any]) -> Sequence[StreamAppend]:
            return [skip]

        await self.leases.record(message_id, build, done=True)
        log.info("message_skipped", message_id=message_id, reason=reason)

    def _expired_reason(self) -> str:
        return EXPIRED.format(f"{self.tuning.max_age_seconds / 3600:g}")

    async def _queue_request(self, claimed: ClaimedMessage) -> None:
        """Turn an opt-in or notification request into queued messages (or skip it), once
        the read models it is rendered from have seen it."""
        if claimed.kind not in ("optin", "notification"):
            await self.leases.finish(claimed.message_id)  # a queued row without its event
            return
        names = OPTIN_PROJECTIONS if claimed.kind == "optin" else NOTIFICATION_PROJECTIONS
        async with self.pool.connection() as conn:
            seen = await read_checkpoints(conn, names)
        if any(seen.get(name, START) < claimed.source for name in names):
            await self.leases.release(claimed.message_id,
                                      after_seconds=self.tuning.lag_retry_seconds)
            return
        now = _now()
        if expired(claimed.created_at, now, self.tuning.max_age_seconds):
            await self._skip(claimed.message_id, MessageState(), self._expired_reason())
            return
        settings = self.settings()

        async def build(conn: psycopg.AsyncConnection[Any]) -> Sequence[StreamAppend]:
            if claimed.kind == "notification":
                return await queue_notifications(conn, claimed, settings,
                                                 master_key=self.master_key, at=now)
            event: Event = await queue_optin(conn, claimed, settings,
                                             master_key=self.master_key, at=now)
            return [StreamAppend(stream_id(claimed.message_id), 0, [event])]

        # Queued: let go, so the message is claimed as any queued one (by whoever is free).
        await self.leases.record(claimed.message_id, build, done=claimed.kind == "notification")
        log.info("message_request_handled", message_id=claimed.message_id, kind=claimed.kind)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.tuning.lease_seconds / 3)
            try:
                await self.leases.renew(sorted(self.in_hand))
            except DB_ERRORS as exc:
                log.warning("message_lease_renewal_failed", error=str(exc))

    async def _notified(self, names: list[str]) -> None:
        if PROJECTION in names:
            self._wake.set()

    async def _connected(self) -> None:
        self._wake.set()  # something may have been queued while disconnected
