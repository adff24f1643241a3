"""``POST /api/campaigns/:id/deliveries/retry``: send every failed delivery again.

Answers ``{"data": {"count": n}}``, the number of failed deliveries the sender will send
again (also for a finished campaign), once the deliveries read model has the request.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.deliveries.decider import RetryDeliveries
from services.command_api.deliveries.handlers import LOOKUPS, retry_deliveries
from services.command_api.executor import execute_handler
from services.command_api.respond import answer
from services.http.params import path_id
from services.runtime import Runtime

PROJECTIONS = ("deliveries", "campaigns")


@post("/api/campaigns/{campaign_id:str}/deliveries/retry", guards=[require_auth],
      operation_id="retryCampaignDeliveries", status_code=200)
async def retry_campaign_deliveries(request: Request[Any, Any, Any],
                                    runtime: NamedDependency[Runtime],
                                    campaign_id: FromPath[str]) -> Response[bytes]:
    """Ask the sender to send the campaign's failed deliveries again."""
    command = RetryDeliveries(campaign_id=path_id(campaign_id), at=datetime.now(UTC))
    ctx = await command_context(request)
    outcome = await execute_handler(runtime.pool, ctx, partial(retry_deliveries, command),
                                    ports=LOOKUPS)
    count = int(outcome.result.get("count", 0))

    async def read() -> dict[str, int]:
        return {"count": count}

    return await answer(runtime, ctx, outcome, PROJECTIONS, read)
