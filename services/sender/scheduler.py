"""Starts scheduled campaigns once their ``send_at`` has passed (listmonk's scheduled -> running).

A background component (``scheduler`` in ``postlog.supervisor``). Every ``scheduler_interval``
seconds it reads the due campaigns from ``readmodel.campaigns`` and starts each with the
``StartCampaign`` it was given: the campaign handler ``start_due`` run through the executor,
like any command (``services/command_api/campaigns/scheduled.py``): the decider re-checks the
campaign's own stream (still scheduled, ``send_at`` passed), computes nothing from the possibly
stale read model, and the append carries the stream version it decided on. So several
schedulers (one per process) may run at once: when two race for a campaign, the second append
conflicts, its retry sees a running campaign, and the decider refuses it; exactly one
``campaign.started`` is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from readmodels.tables import tables_exist

log = structlog.get_logger(__name__)

MAX_PER_TICK = 100


async def due_campaigns(pool: AsyncConnectionPool[Any], now: datetime) -> list[int]:
    """Ids of the scheduled campaigns whose ``send_at`` is at or before ``now``."""
    async with pool.connection() as conn:
        if not await tables_exist(conn, "campaigns"):
            return []
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT id FROM readmodel.campaigns WHERE status = 'scheduled' AND send_at <= %s"
            " ORDER BY send_at, id LIMIT %s", (now, MAX_PER_TICK))
        return [int(r[0]) for r in await cur.fetchall()]


StartCampaign = Callable[[int, datetime], Awaitable[bool]]
"""Starts one due campaign (``True``) or finds it not, or no longer, due (``False``): the
campaign command ``services.command_api.campaigns.scheduled.start_scheduled``, given by the
composition root (``postlog.supervisor``), so the sender does not import the command API."""


class CampaignScheduler:
    """Polls for due campaigns and starts them until asked to stop."""

    def __init__(self, pool: AsyncConnectionPool[Any], start: StartCampaign,
                 interval: float = 1.0) -> None:
        self._pool = pool
        self._start = start
        self._interval = interval

    async def tick(self, now: datetime | None = None) -> int:
        """Start every campaign due at ``now``; how many started."""
        at = now or datetime.now(UTC)
        started = 0
        for campaign_id in await due_campaigns(self._pool, at):
            if await self._start(campaign_id, at):
                started += 1
        return started

    async def run(self, stop: asyncio.Event) -> None:
        log.info("campaign_scheduler_started", interval=self._interval)
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("campaign_scheduler_error")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
        log.info("campaign_scheduler_stopped")
