"""Plumbing shared by the public POST endpoints: form values, the command context of an
anonymous visitor, and waiting for the read models before a page answers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import structlog
from litestar import Request

from services.command_api.context import command_context
from services.command_api.executor import CommandContext, CommandOutcome
from services.command_api.subscribers.routing import PROJECTIONS
from services.http.errors import APIError
from services.runtime import Runtime

log = structlog.get_logger(__name__)

PUBLIC_ACTOR = "public"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def form_values(
    request: Request[Any, Any, Any], *, with_query: bool = False
) -> dict[str, list[str]]:
    """The values of a form body by name (repeated names keep every value). With
    ``with_query``, names absent from the body are taken from the query string (Go's
    ``FormValue`` reads both). A JSON body has no form values; another non-empty body is 415."""
    values: dict[str, list[str]] = {}
    media_type = request.content_type[0].lower()
    if media_type in _FORM_TYPES:
        # Read (and cache) the body first: litestar parses multipart from the stream, which
        # the command context (idempotency) would then find consumed.
        await request.body()
        form = await request.form()
        values = {key: [str(v) for v in form.getall(key)] for key in form}
    elif media_type != "application/json" and (await request.body()).strip():
        raise APIError(415, "Unsupported Media Type")
    if with_query:
        for key in request.query_params:
            values.setdefault(key, list(request.query_params.getall(key)))
    return values


async def public_context(request: Request[Any, Any, Any]) -> CommandContext:
    """A command context for an anonymous visitor: events record the actor ``public`` and an
    ``Idempotency-Key`` is scoped to public requests."""
    ctx = await command_context(request)
    key = ctx.idempotency_key.partition(":")[2]
    return replace(ctx, actor=PUBLIC_ACTOR,
                   idempotency_key=f"{PUBLIC_ACTOR}:{key}" if key else "")


async def settle(runtime: Runtime, outcome: CommandOutcome) -> None:
    """Wait (bounded) until the read models show the command, so the page a visitor sees next
    already reflects it (read-your-writes, as ``respond.answer`` does for JSON)."""
    if outcome.appended:
        runtime.metrics.observe_append(outcome.appended)
    if outcome.position is None:
        return
    if not await runtime.waiter.wait(outcome.position, PROJECTIONS):
        log.warning("read_your_writes_timeout", position=str(outcome.position),
                    projections=list(PROJECTIONS))
