"""Answers a command: waits for its projections (read-your-writes), then returns what a GET would.

For an idempotent retry the first answer's bytes are returned unchanged.

Once a command committed, its answer never fails: a wait that breaks, a read that loses its
connection (tried again once, on a fresh one) or an answer that cannot be remembered for its
Idempotency-Key (``store_response`` tries twice) are logged, and the client still gets its
200: from the read model when it can be read, else from what the command itself knows (the
route's ``fallback``, or its result).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
import psycopg
import structlog
from litestar import Request, Response
from psycopg_pool import AsyncConnectionPool

from events.crypto import master_key_from
from kernel.db import drop_dead_connections, is_connection_lost
from kernel.errors import DomainError
from services.command_api.context import command_context
from services.command_api.executor import (
    CommandContext,
    CommandOutcome,
    execute_handler,
    store_response,
)
from services.command_api.store import Handler, Ports
from services.runtime import Runtime

log = structlog.get_logger(__name__)

# The slowest projection rate a bulk command's answer is willing to wait for (events/s).
BULK_EVENTS_PER_SECOND = 1000.0

Read = Callable[[], Awaitable[Any]]
# The answer a route can give from the command alone (None: it has none this time).
Fallback = Callable[[], Any]


async def answer(
    runtime: Runtime,
    ctx: CommandContext,
    outcome: CommandOutcome,
    projections: Sequence[str],
    read: Read | None = None,
    status_code: int = 200,
    fallback: Fallback | None = None,
) -> Response[bytes]:
    """``{"data": <read()>}`` once the projections caught up (``{"data": true}`` without read).

    If the read model cannot be read, ``data`` is ``fallback()`` (e.g. the object the command
    created), else the command's result: the write is done and a GET will show it.
    """
    if outcome.appended:
        runtime.metrics.observe_append(outcome.appended)
    if outcome.stored_response is not None:
        status, body = outcome.stored_response
        return Response(content=body, status_code=status, media_type="application/json")
    await _wait_for_projections(runtime, outcome, projections)
    data, from_read_model = (await _read_answer(read, fallback, outcome, runtime.read_pool)
                             if read is not None
                             else (True, True))
    body = msgspec.json.encode({"data": data})
    # A stand-in answer is not kept for the key: its retries read the read model again.
    if ctx.idempotency_key and from_read_model and not await store_response(
            runtime.pool, ctx.idempotency_key, status_code, body):
        log.warning("answer_given_but_not_stored", position=str(outcome.position))
    return Response(content=body, status_code=status_code, media_type="application/json")


async def _wait_for_projections(
    runtime: Runtime, outcome: CommandOutcome, projections: Sequence[str]
) -> None:
    # A bulk command (by query, an import's stop) may append tens of thousands of events: wait
    # for them at a rate any projector keeps, on top of the usual bound.
    extra = outcome.appended / BULK_EVENTS_PER_SECOND if outcome.appended > 1000 else 0.0
    try:
        reached = await runtime.waiter.wait(outcome.position, projections, extra_seconds=extra)
    except Exception as exc:  # committed: answer from the read model as it is
        log.warning("read_your_writes_wait_failed", position=str(outcome.position),
                    error=repr(exc))
        return
    if not reached:
        log.warning("read_your_writes_timeout", position=str(outcome.position),
                    projections=list(projections))


async def _read_answer(read: Read, fallback: Fallback | None, outcome: CommandOutcome,
                       read_pool: AsyncConnectionPool[Any]) -> tuple[Any, bool]:
    """What ``read()`` gives, tried twice if the first lost its connection (the pool hands
    the second a working one); failing that, what the command knows. The flag tells whether
    the answer came from the read model. A domain answer (such as 404 for a resource deleted
    since) is not a failure and is raised as usual."""
    for attempt in (1, 2):
        try:
            return await read(), True
        except DomainError:
            raise
        except Exception as exc:
            if attempt == 1 and is_connection_lost(exc):
                log.info("answer_read_retry", position=str(outcome.position), error=str(exc))
                await drop_dead_connections(read_pool)
                continue
            # A database error is an outage; anything else is a bug worth its traceback.
            log.warning("answer_read_failed_after_commit", position=str(outcome.position),
                        error=repr(exc), exc_info=not isinstance(exc, psycopg.Error))
            break
    known = fallback() if fallback is not None else None
    return (known if known is not None else (outcome.result or True)), False


async def run_handler(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    handler: Handler,
    projections: Sequence[str],
    read: Read | None = None,
    fallback: Fallback | None = None,
    ports: Ports | None = None,
) -> Response[bytes]:
    """Run ``handler`` as the request's command and ``answer`` it: what most routes do once
    they have bound the body (route -> handler -> decider -> store -> answer)."""
    ctx = await command_context(request)
    outcome = await execute_handler(runtime.pool, ctx, handler, ports=ports,
                                    master_key=master_key_from(runtime.settings.master_key))
    return await answer(runtime, ctx, outcome, projections, read, fallback=fallback)
