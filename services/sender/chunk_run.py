"""One chunk worked through by the process that holds its lease.

``ChunkRun.run`` reads the chunk's recipients page by page, skips those its stream already
settles (delivered, or failed for good), and submits one job per recipient to the workers
(``dispatch.Dispatcher``). Results are buffered and recorded as ``delivery.progress`` every
``flush_every`` results or ``flush_seconds`` (``leases.ChunkLeases.record``, fenced by the
stream's version). A message that fails for now is submitted again after a back-off, up to
``retry_attempts`` attempts, then recorded as failed. When every recipient is settled the
chunk is recorded complete.

``stop()`` (pause, cancel, shutdown) stops submitting; the messages already in a worker's
hands finish and are recorded, queued ones are dropped unsent, retries waiting for their turn
are left to the next holder (they are recorded as retrying), and the lease is released so any
process can take the chunk when the campaign runs again. A record that conflicts means another
process took the chunk over: the run ends at once (``lost``), recording nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gotemplate import TemplateError
from services.sender.campaign_message import PreparedCampaign, build_message
from services.sender.config import SenderTuning
from services.sender.dispatch import Dispatcher, Job
from services.sender.leases import ChunkLeases, HeldChunk, LostChunk
from services.sender.messengers.base import DeliveryResult, Messenger
from services.sender.progress import ResultBuffer
from services.sender.recipients import Audience, recipient_pages

log = structlog.get_logger(__name__)

DB_ERRORS = (psycopg.Error, PoolTimeout, OSError)
DB_RETRY_SECONDS = 1.0


@dataclass
class Sending:
    """What a chunk run needs of its campaign: the compiled campaign, the messenger, the
    audience, and who to tell the campaign's failure count after each record."""

    prepared: PreparedCampaign
    messenger: Messenger
    audience: Audience
    errors_recorded: Callable[[int], None]


class ChunkRun:
    """Sends one held chunk to the end, or until stopped."""

    def __init__(self, held: HeldChunk, sending: Sending, *, leases: ChunkLeases,
                 dispatcher: Dispatcher, pool: AsyncConnectionPool[Any],
                 tuning: SenderTuning) -> None:
        self.held = held
        self.sending = sending
        self.leases = leases
        self.dispatcher = dispatcher
        self.pool = pool
        self.tuning = tuning
        self.feeding = True
        self.lost = False
        self.delivered = 0
        self._stopping = False
        self._closing = False
        self._outstanding = 0  # jobs submitted and not settled or dropped, retries included
        self._in_hands = 0  # jobs a worker is delivering right now
        self._buffer = ResultBuffer()
        self._retries: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._settled = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._renewed = time.monotonic()
        self._feeder: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Finish what is in the workers' hands, record it, and let the chunk go."""
        if self._stopping:
            return
        self._stopping = True
        if self._feeder is not None:
            self._feeder.cancel()
        for handle in self._retries.values():
            handle.cancel()
        self._outstanding -= len(self._retries)
        self._retries.clear()
        self._check()

    async def run(self) -> str:
        """``completed``, ``stopped`` or ``lost``."""
        log.info("chunk_claimed", campaign_id=self.held.campaign_id, chunk=self.held.chunk,
                 after_id=self.held.after_id, last_id=self.held.last_id, round=self.held.round,
                 settled=len(self.held.state.delivered) + len(self.held.state.failed))
        flusher = asyncio.create_task(self._flush_loop(), name="sender-flush")
        # A task of its own so that ``stop`` can interrupt it while it waits for room in the
        # workers' queue (workers held up by the sliding window may not take a job for long).
        self._feeder = asyncio.create_task(self._feed(), name="sender-feed")
        try:
            await asyncio.wait([self._feeder])
            error = None if self._feeder.cancelled() else self._feeder.exception()
            if error is not None:
                raise error
            self.feeding = False
            self._check()
            await self._settled.wait()
        finally:
            self.feeding = False
            if not self._feeder.done():
                self._feeder.cancel()
            for task in list(self._tasks):
                task.cancel()
            # Never cancel a record half-way: its results would be lost. The loop ends after
            # the record under way, if any.
            self._closing = True
            self._flush_now.set()
            await flusher
        if self.lost:
            return "lost"
        complete = not self._stopping
        if not await self._final_record(complete):
            return "lost"
        if not complete:
            try:
                await self.leases.release(self.held)
            except DB_ERRORS as exc:  # the lease runs out by itself
                log.warning("chunk_release_failed", chunk=self.held.chunk, error=str(exc))
        return "completed" if complete else "stopped"

    # --- feeding ------------------------------------------------------------------------------

    async def _feed(self) -> None:
        state = self.held.state
        cursor = self.held.after_id
        while not self._stopping:
            try:
                async for page in recipient_pages(self.pool.connection, self.sending.audience,
                                                  cursor, self.held.last_id,
                                                  self.tuning.feed_batch):
                    for row in page:
                        if self._stopping:
                            return
                        cursor = row.id
                        if state.settled(row.id):
                            continue
                        self._outstanding += 1
                        await self.dispatcher.submit(
                            Job(self, row, state.attempts_so_far(row.id) + 1))
                return
            except DB_ERRORS as exc:
                log.warning("sender_recipients_unavailable", campaign_id=self.held.campaign_id,
                            chunk=self.held.chunk, error=str(exc))
                await asyncio.sleep(DB_RETRY_SECONDS)

    # --- the workers' side (dispatch.JobOwner) ------------------------------------------------

    def dropped(self, job: Job) -> None:
        self._outstanding -= 1
        self._check()

    async def deliver(self, job: Job) -> DeliveryResult:
        self._in_hands += 1
        try:
            message = build_message(self.sending.prepared, job.recipient)
        except TemplateError as exc:
            return DeliveryResult.refused(0, f"error rendering message: {exc}")
        except Exception as exc:  # a bug: recorded against this message, the others go on
            log.exception("message_not_built", campaign_id=self.held.campaign_id)
            return DeliveryResult.refused(0, f"error building message: {exc!r}")
        try:
            return await self.sending.messenger.send(message)
        except Exception as exc:  # a bug or a closed messenger: try again later
            log.exception("messenger_failed", messenger=self.sending.messenger.name)
            return DeliveryResult.retry_later(0, f"messenger error: {exc!r}")

    def settle(self, job: Job, result: DeliveryResult) -> None:
        self._in_hands -= 1
        sid = job.recipient.id
        if result.delivered:
            self._buffer.delivered(sid)
            self.delivered += 1
        elif result.temporary and self._stopping:
            self._buffer.retrying(sid, result.code, result.detail)  # the next holder retries
        elif result.temporary and job.attempt < self.tuning.retry_attempts:
            self._buffer.retrying(sid, result.code, result.detail)
            delay = self.tuning.backoff(job.attempt)
            retry = Job(self, job.recipient, job.attempt + 1)
            self._retries[sid] = asyncio.get_running_loop().call_later(
                delay, self._resubmit, retry)
            self._want_flush()
            return  # still outstanding
        else:
            self._buffer.failed(sid, result.code, result.detail)
        self._outstanding -= 1
        self._want_flush()
        self._check()

    def _resubmit(self, job: Job) -> None:
        self._retries.pop(job.recipient.id, None)
        task = asyncio.create_task(self.dispatcher.submit(job))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _check(self) -> None:
        """Wake ``run`` once nothing is left to wait for: every job settled, or (stopping)
        nothing in a worker's hands."""
        if (self._stopping and self._in_hands == 0) or (
                not self.feeding and self._outstanding == 0):
            self._settled.set()

    def _want_flush(self) -> None:
        if len(self._buffer) >= self.tuning.flush_every:
            self._flush_now.set()

    # --- recording ----------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self.tuning.flush_seconds)
            self._flush_now.clear()
            if not self._closing:
                await self._flush()

    async def _flush(self, complete: bool = False) -> bool:
        """Record the buffered results (renew the lease when there are none); False when the
        record could not be written (kept for the next try) or the chunk was lost."""
        async with self._flush_lock:
            if self.lost:
                return False
            pending = self._buffer.take()
            try:
                if pending or complete:
                    errors = await self.leases.record(
                        self.held, pending, self.sending.messenger.name, complete=complete)
                    self.sending.errors_recorded(errors)
                elif time.monotonic() - self._renewed > self.tuning.lease_seconds / 3:
                    await self.leases.renew(self.held)
                else:
                    return True
            except LostChunk:
                self._lose()
                return False
            except DB_ERRORS as exc:
                self._buffer.restore(pending)
                log.warning("sender_progress_not_recorded", campaign_id=self.held.campaign_id,
                            chunk=self.held.chunk, error=str(exc), waiting=len(self._buffer))
                return False
            self._renewed = time.monotonic()
            return True

    async def _final_record(self, complete: bool) -> bool:
        """Record what is left (and the chunk complete), trying until it is written."""
        while not await self._flush(complete=complete):
            if self.lost:
                return False
            await asyncio.sleep(DB_RETRY_SECONDS)
        return True

    def _lose(self) -> None:
        log.warning("chunk_lost", campaign_id=self.held.campaign_id, chunk=self.held.chunk,
                    reason="another process holds it now; unrecorded results dropped")
        self.lost = True
        self._buffer.take()
        self.stop()
        self._settled.set()
