"""The sender of one process: which campaigns it works on, and its workers.

Campaigns come to a sender three ways, all ending in ``activate`` / ``deactivate``, which are
idempotent:

- campaign events from NATS (``campaign_listener``): the shared durable consumer (each event
  handled at least once by some process, even one published while every sender was down) and
  a plain subscription of each process (so every process hears of a pause at once);
- ``reconcile`` every ``poll_seconds``: the running campaigns in the read model, campaigns
  with chunks reopened by a retry round, and retry rounds no process applied yet. This is what
  picks up campaigns after a restart and while NATS is down;
- each ``CampaignRun`` re-reading its campaign's stream every ``poll_seconds``.

``run`` keeps the workers (``dispatch.Dispatcher``) for as long as the process runs; on stop,
every campaign run stops (what is in flight is finished and recorded, leases are released),
then the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from typing import Any

import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from services.sender.campaign_plan import load_plan
from services.sender.campaign_run import (
    CampaignRun,
    FinishCampaign,
    MessengerSource,
    PauseCampaign,
    SenderDeps,
)
from services.sender.chunk_run import DB_ERRORS
from services.sender.config import SenderTuning, SettingsSource
from services.sender.dispatch import Dispatcher
from services.sender.leases import ChunkLeases

log = structlog.get_logger(__name__)

STOP_SECONDS = 8.0
STOPPED_BY = frozenset({"campaign.paused", "campaign.cancelled", "campaign.deleted",
                        "campaign.finished"})
STARTED_BY = frozenset({"campaign.started", "campaign.resumed",
                        "campaign.deliveries_retry_requested"})


def holder_name() -> str:
    """This process's name in the lease table: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SenderEngine:
    """Campaign delivery in one process."""

    def __init__(self, pool: AsyncConnectionPool[Any], *, settings: SettingsSource,
                 messengers: MessengerSource, finish: FinishCampaign, pause: PauseCampaign,
                 tuning: SenderTuning | None = None, master_key: bytes | None = None,
                 holder: str | None = None) -> None:
        self.tuning = tuning or SenderTuning()
        self.holder = holder or holder_name()
        self.pool = pool
        self.dispatcher = Dispatcher(settings)
        self.leases = ChunkLeases(pool, self.holder, lease_seconds=self.tuning.lease_seconds,
                                  master_key=master_key)
        self.deps = SenderDeps(pool=pool, leases=self.leases, dispatcher=self.dispatcher,
                               settings=settings, messengers=messengers, tuning=self.tuning,
                               finish=finish, pause=pause)
        self.runs: dict[int, tuple[CampaignRun, asyncio.Task[None]]] = {}
        self._again: set[int] = set()
        self._stopped = False
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then stop cleanly."""
        log.info("sender_started", holder=self.holder, lease_seconds=self.tuning.lease_seconds)
        self.dispatcher.start()
        try:
            while not stop.is_set():
                try:
                    await self.reconcile()
                except DB_ERRORS as exc:
                    log.warning("sender_reconcile_failed", error=str(exc))
                self._wake.clear()
                waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(
                    self._wake.wait())]
                await asyncio.wait(waiters, timeout=self.tuning.poll_seconds,
                                   return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        self._stopped = True
        for run, _ in self.runs.values():
            run.stop()
        tasks = [task for _, task in self.runs.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_SECONDS)
        await self.dispatcher.close()
        log.info("sender_stopped", holder=self.holder)

    async def reconcile(self) -> None:
        """Activate every campaign with work to do (see the module's docstring)."""
        async with self.pool.connection() as conn:
            cur = await conn.cursor(row_factory=tuple_row).execute(
                "SELECT id FROM readmodel.campaigns WHERE status = 'running' ORDER BY id")
            running = [int(row[0]) for row in await cur.fetchall()]
        reopened, rounds = await self.leases.campaigns_to_look_at()
        for campaign_id, round_ in rounds:
            await self.leases.apply_retry_round(campaign_id, round_)
        for campaign_id in dict.fromkeys([*running, *reopened, *(c for c, _ in rounds)]):
            self.activate(campaign_id)

    async def on_campaign_event(self, campaign_id: int, event_type: str) -> None:
        """React to a campaign event heard on NATS (at once, before the next poll)."""
        if event_type in STOPPED_BY:
            self.deactivate(campaign_id)
        elif event_type == "campaign.deliveries_retry_requested":
            async with self.pool.connection() as conn:
                plan = await load_plan(conn, campaign_id)
            if plan is not None and plan.retry_round:
                await self.leases.apply_retry_round(campaign_id, plan.retry_round)
            self.activate(campaign_id)
        elif event_type in STARTED_BY:
            self.activate(campaign_id)

    def activate(self, campaign_id: int) -> None:
        """Work on the campaign if this process does not already."""
        if self._stopped:
            return
        current = self.runs.get(campaign_id)
        if current is not None:
            run, _ = current
            if run.stopping:
                self._again.add(campaign_id)  # once the stopping run has let go
            else:
                run.wake()
            return
        run = CampaignRun(campaign_id, self.deps)
        task = asyncio.create_task(run.run(), name=f"campaign-{campaign_id}")
        self.runs[campaign_id] = (run, task)

        def ended(done: asyncio.Task[None]) -> None:
            if self.runs.get(campaign_id, (None, None))[1] is done:
                del self.runs[campaign_id]
            if not done.cancelled() and done.exception() is not None:
                log.error("campaign_run_failed", campaign_id=campaign_id,
                          error=repr(done.exception()))
            if campaign_id in self._again:
                self._again.discard(campaign_id)
                self.activate(campaign_id)

        task.add_done_callback(ended)

    def deactivate(self, campaign_id: int) -> None:
        """Stop working on the campaign (in-flight messages finish and are recorded)."""
        self._again.discard(campaign_id)
        current = self.runs.get(campaign_id)
        if current is not None:
            current[0].stop()

    def wake(self) -> None:
        """Reconcile now rather than at the next poll."""
        self._wake.set()

    async def idle(self) -> None:
        """Wait until no campaign run is active (tests)."""
        while self.runs:
            tasks = [task for _, task in self.runs.values()]
            with contextlib.suppress(Exception):
                await asyncio.wait(tasks)
