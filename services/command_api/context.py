"""Per-request context: correlation id, actor and idempotency key for a command."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from litestar import Request

from events.validation import check_line
from services.command_api.executor import CommandContext, request_fingerprint

CORRELATION_HEADER = "x-correlation-id"
REQUEST_ID_HEADER = "x-request-id"
IDEMPOTENCY_HEADER = "idempotency-key"
IDEMPOTENCY_KEY_MAX_BYTES = 255  # it is a primary key (with the actor) in eventlog.idempotency


def correlation_id_of(request: Request[Any, Any, Any]) -> str:
    """The request's correlation id: taken from the client, or made once per request."""
    existing = request.scope.get("state", {}).get("correlation_id")
    if existing:
        return str(existing)
    cid = (
        request.headers.get(CORRELATION_HEADER)
        or request.headers.get(REQUEST_ID_HEADER)
        or str(uuid.uuid4())
    )
    request.scope.setdefault("state", {})["correlation_id"] = cid
    structlog.contextvars.bind_contextvars(correlation_id=cid)
    return cid


def _path_and_query(request: Request[Any, Any, Any]) -> str:
    return request.url.path + "?" + request.url.query


async def command_context(request: Request[Any, Any, Any]) -> CommandContext:
    """Everything the executor needs to know about who sent a command and how to dedupe it."""
    body = await request.body()
    key = check_line(request.headers.get(IDEMPOTENCY_HEADER, "").strip(), "Idempotency-Key",
                     IDEMPOTENCY_KEY_MAX_BYTES)
    actor = str(request.scope.get("state", {}).get("actor", ""))
    cid = correlation_id_of(request)
    return CommandContext(
        actor=actor,
        correlation_id=cid,
        request_id=cid,
        idempotency_key=f"{actor}:{key}" if key else "",
        fingerprint=request_fingerprint(request.method, _path_and_query(request), body)
        if key
        else "",
    )
