"""Starting a scheduled campaign once its ``send_at`` passed: the campaign command the sender's
scheduler (``services/sender/scheduler.py``) runs for each due campaign."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from kernel.errors import DomainError
from kernel.metrics import Metrics
from services.command_api.campaigns import handlers
from services.command_api.campaigns.commands import StartDue
from services.command_api.campaigns.lookups import LOOKUPS
from services.command_api.campaigns.messengers import messengers_port
from services.command_api.executor import CommandContext, execute_handler
from services.live_settings import LiveSettings

log = structlog.get_logger(__name__)

ACTOR = "system:scheduler"


async def start_scheduled(pool: AsyncConnectionPool[Any], campaign_id: int, now: datetime,
                    metrics: Metrics | None = None, live: LiveSettings | None = None) -> bool:
    """Start one due campaign; ``False`` if it was not (or no longer) due, or if its
    messenger is not enabled in ``live`` settings (it stays scheduled)."""
    ctx = CommandContext(actor=ACTOR, correlation_id=f"scheduler:campaign-{campaign_id}")
    command = StartDue(campaign_id=campaign_id, at=now)
    ports = {**LOOKUPS, "messengers": messengers_port(live)} if live is not None else LOOKUPS
    try:
        outcome = await execute_handler(pool, ctx,
                                        partial(handlers.start_due, command), ports=ports)
    except DomainError as refused:
        log.info("scheduled_campaign_skipped", campaign_id=campaign_id, reason=refused.message)
        return False
    if metrics is not None and outcome.appended:
        metrics.observe_append(outcome.appended)
    log.info("scheduled_campaign_started", campaign_id=campaign_id)
    return True
