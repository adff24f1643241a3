"""The campaign commands the sender runs: finish a campaign it delivered, pause one it cannot.

Given to the sender by the composition root (``postlog.supervisor``), as the scheduler is given
its start, so the sender never imports the command API. Each runs the campaign's handler
through the executor like any command: the decider re-checks the campaign's stream, so a
campaign paused or cancelled meanwhile is not finished (the sender finishes it after it runs
again), and a second sender finishing the same campaign is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from kernel.errors import DomainError
from kernel.metrics import Metrics
from services.command_api.campaigns import handlers
from services.command_api.campaigns.commands import FinishCampaign, PauseSending
from services.command_api.executor import CommandContext, execute_handler
from services.command_api.store import Handler

log = structlog.get_logger(__name__)

ACTOR = "system:sender"


async def _run(pool: AsyncConnectionPool[Any], campaign_id: int, handler: Handler,
               metrics: Metrics | None) -> bool:
    ctx = CommandContext(actor=ACTOR, correlation_id=f"sender:campaign-{campaign_id}")
    try:
        outcome = await execute_handler(pool, ctx, handler)
    except DomainError as refused:
        log.info("sender_command_refused", campaign_id=campaign_id, reason=refused.message)
        return False
    if metrics is not None and outcome.appended:
        metrics.observe_append(outcome.appended)
    return True


async def finish_sent(pool: AsyncConnectionPool[Any], campaign_id: int,
                      metrics: Metrics | None = None) -> bool:
    """Mark a running campaign finished; False if it is not running (any more)."""
    command = FinishCampaign(campaign_id=campaign_id, at=datetime.now(UTC))
    return await _run(pool, campaign_id, partial(handlers.finish_campaign, command), metrics)


async def pause_sending(pool: AsyncConnectionPool[Any], campaign_id: int, reason: str,
                        metrics: Metrics | None = None) -> bool:
    """Pause a running campaign, recording why; False if it is not running (any more)."""
    command = PauseSending(campaign_id=campaign_id, reason=reason[:500], at=datetime.now(UTC))
    return await _run(pool, campaign_id, partial(handlers.pause_sending, command), metrics)
