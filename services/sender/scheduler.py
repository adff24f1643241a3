"""Starts scheduled campaigns once their ``send_at`` has passed (listmonk's scheduled -> running).

A background component (``scheduler`` in ``postlog.supervisor``). Every ``scheduler_interval``
seconds it reads the due campaigns from ``readmodel.campaigns`` and runs the campaign handler
``start_due`` on each through the executor, like any command: the decider re-checks the
campaign's own stream (still scheduled, ``send_at`` passed), computes nothing from the possibly
stale read model, and the append carries the stream version it decided on. So several
schedulers (one per process) may run at once: when two race for a campaign, the second append
conflicts, its retry sees a running campaign, and the decider refuses it; exactly one
``campaign.started`` is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from kernel.errors import DomainError
from kernel.metrics import Metrics
from services.command_api.campaigns import handlers
from services.command_api.campaigns.commands import StartDue
from services.command_api.campaigns.lookups import tables_exist, with_lookups
from services.command_api.executor import CommandContext, execute_handler

log = structlog.get_logger(__name__)

ACTOR = "system:scheduler"
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


async def start_due(pool: AsyncConnectionPool[Any], campaign_id: int, now: datetime,
                    metrics: Metrics | None = None) -> bool:
    """Start one due campaign; ``False`` if it was not (or no longer) due."""
    ctx = CommandContext(actor=ACTOR, correlation_id=f"scheduler:campaign-{campaign_id}")
    command = StartDue(campaign_id=campaign_id, at=now)
    try:
        outcome = await execute_handler(pool, ctx,
                                        with_lookups(partial(handlers.start_due, command)))
    except DomainError as refused:
        log.info("scheduled_campaign_skipped", campaign_id=campaign_id, reason=refused.message)
        return False
    if metrics is not None and outcome.appended:
        metrics.observe_append(outcome.appended)
    log.info("scheduled_campaign_started", campaign_id=campaign_id)
    return True


class CampaignScheduler:
    """Polls for due campaigns and starts them until asked to stop."""

    def __init__(self, pool: AsyncConnectionPool[Any], interval: float = 1.0,
                 metrics: Metrics | None = None) -> None:
        self._pool = pool
        self._interval = interval
        self._metrics = metrics

    async def tick(self, now: datetime | None = None) -> int:
        """Start every campaign due at ``now``; how many started."""
        at = now or datetime.now(UTC)
        started = 0
        for campaign_id in await due_campaigns(self._pool, at):
            if await start_due(self._pool, campaign_id, at, self._metrics):
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
