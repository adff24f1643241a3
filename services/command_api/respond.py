"""Answers a command: waits for its projections (read-your-writes), then returns what a GET would.

For an idempotent retry the first answer's bytes are returned unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import structlog
from litestar import Request, Response

from postlog.runtime import Runtime
from services.command_api.executor import (
    CommandContext,
    CommandOutcome,
    DecideFn,
    execute,
    store_response,
)
from services.http.context import command_context

log = structlog.get_logger(__name__)

# The slowest projection rate a bulk command's answer is willing to wait for (events/s).
BULK_EVENTS_PER_SECOND = 1000.0


async def answer(
    runtime: Runtime,
    ctx: CommandContext,
    outcome: CommandOutcome,
    projections: Sequence[str],
    read: Callable[[], Awaitable[Any]] | None = None,
    status_code: int = 200,
) -> Response[bytes]:
    """``{"data": <read()>}`` once the projections caught up (``{"data": true}`` without read)."""
    if outcome.appended:
        runtime.metrics.observe_append(outcome.appended)
    if outcome.stored_response is not None:
        status, body = outcome.stored_response
        return Response(content=body, status_code=status, media_type="application/json")
    # A bulk command (by query, an import's stop) may append tens of thousands of events: wait
    # for them at a rate any projector keeps, on top of the usual bound.
    reached = await runtime.waiter.wait(
        outcome.position, projections,
        extra_seconds=outcome.appended / BULK_EVENTS_PER_SECOND if outcome.appended > 1000
        else 0.0)
    if not reached:
        log.warning("read_your_writes_timeout", position=str(outcome.position),
                    projections=list(projections))
    data = await read() if read is not None else True
    body = msgspec.json.encode({"data": data})
    if ctx.idempotency_key:
        await store_response(runtime.pool, ctx.idempotency_key, status_code, body)
    return Response(content=body, status_code=status_code, media_type="application/json")


async def run_command(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    decide: DecideFn,
    projections: Sequence[str],
    read: Callable[[], Awaitable[Any]] | None = None,
) -> Response[bytes]:
    """Run ``decide`` as the request's command (idempotency, one transaction) and ``answer``
    it: the common shape of an endpoint that needs nothing from the outcome but its answer."""
    ctx = await command_context(request)
    outcome = await execute(runtime.pool, ctx, decide)
    return await answer(runtime, ctx, outcome, projections, read)
