"""Runs a command in one transaction: idempotency check, decide, append, record the outcome.

The caller supplies ``decide(conn)``, which loads what it needs, writes command-side index rows
(e.g. the unique e-mail index) and returns the appends and a small result (such as the new id).
Everything commits together; a failed command appends nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
import psycopg
import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.base import EventMetadata
from events.store import ConcurrencyError, Position, StreamAppend, append, derive_event_ids
from services.command_api.domain import Conflict, Unprocessable

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "postlog_events"


@dataclass(frozen=True)
class CommandContext:
    """Who sent the command and how to recognise a retry of it."""

    actor: str = ""
    correlation_id: str = ""
    request_id: str = ""
    idempotency_key: str = ""
    fingerprint: str = ""

    def metadata(self) -> EventMetadata:
        return EventMetadata(
            actor=self.actor,
            correlation_id=self.correlation_id,
            causation_id=self.request_id,
            request_id=self.request_id,
            idempotency_key=self.idempotency_key,
        )


@dataclass(frozen=True)
class Decision:
    appends: Sequence[StreamAppend]
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandOutcome:
    """What a command did. ``stored_response`` is set when this is a retry already answered."""

    position: Position | None
    result: dict[str, Any]
    replayed: bool = False
    stored_response: tuple[int, bytes] | None = None
    # Events this command appended (0 for a retry answered from the idempotency record).
    appended: int = 0


DecideFn = Callable[[psycopg.AsyncConnection[Any]], Awaitable[Decision]]


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


async def execute(
    pool: AsyncConnectionPool[Any],
    ctx: CommandContext,
    decide: DecideFn,
    *,
    attempts: int = 5,
) -> CommandOutcome:
    """Decide and append atomically, retrying on a version conflict."""
    for attempt in range(1, attempts + 1):
        try:
            return await _execute_once(pool, ctx, decide)
        except ConcurrencyError as exc:
            log.info("command_conflict_retry", stream=exc.stream_id, attempt=attempt)
            if attempt == attempts:
                raise Conflict("the resource was changed concurrently; retry") from exc
    raise AssertionError("unreachable")


async def _execute_once(
    pool: AsyncConnectionPool[Any], ctx: CommandContext, decide: DecideFn
) -> CommandOutcome:
    async with pool.connection() as conn:
        async with conn.transaction():
            if ctx.idempotency_key:
                previous = await _claim_key(conn, ctx)
                if previous is not None:
                    return previous
            decision = await decide(conn)
            position: Position | None = None
            appends = [a for a in decision.appends if a.events]
            if appends:
                if ctx.idempotency_key:
                    appends = _with_derived_ids(ctx.idempotency_key, appends)
                position = await append(conn, appends, ctx.metadata())
            if ctx.idempotency_key:
                await conn.execute(
                    "UPDATE eventlog.idempotency SET result = %s::jsonb,"
                    " tx_id = %s::text::xid8, global_position = %s WHERE key = %s",
                    (
                        msgspec.json.encode(decision.result).decode(),
                        position.tx_id if position else None,
                        position.global_position if position else None,
                        ctx.idempotency_key,
                    ),
                )
        if position is not None:
            await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    appended = sum(len(a.events) for a in appends) if position is not None else 0
    return CommandOutcome(position=position, result=decision.result, appended=appended)


def _with_derived_ids(key: str, appends: Sequence[StreamAppend]) -> list[StreamAppend]:
    total = sum(len(a.events) for a in appends)
    ids = derive_event_ids(key, total)
    out: list[StreamAppend] = []
    offset = 0
    for a in appends:
        out.append(replace(a, event_ids=ids[offset : offset + len(a.events)]))
        offset += len(a.events)
    return out


async def _claim_key(
    conn: psycopg.AsyncConnection[Any], ctx: CommandContext
) -> CommandOutcome | None:
    """Insert the key's row; if it exists (a retry), return the first request's outcome."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "INSERT INTO eventlog.idempotency (key, fingerprint) VALUES (%s, %s)"
        " ON CONFLICT (key) DO NOTHING RETURNING key",
        (ctx.idempotency_key, ctx.fingerprint),
    )
    if await cur.fetchone() is not None:
        return None
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT fingerprint, result, tx_id::text::bigint, global_position,"
        " response_status, response_body FROM eventlog.idempotency WHERE key = %s",
        (ctx.idempotency_key,),
    )
    row = await cur.fetchone()
    assert row is not None
    if row[0] != ctx.fingerprint:
        raise Unprocessable("Idempotency-Key was already used for a different request")
    position = Position(int(row[2]), int(row[3])) if row[2] is not None else None
    stored = (int(row[4]), bytes(row[5])) if row[4] is not None else None
    return CommandOutcome(position=position, result=dict(row[1]), replayed=True,
                          stored_response=stored)


async def store_response(
    pool: AsyncConnectionPool[Any], key: str, status: int, body: bytes
) -> None:
    """Remember the answer given for an idempotency key, so a retry gets the same bytes."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE eventlog.idempotency SET response_status = %s, response_body = %s"
            " WHERE key = %s AND response_status IS NULL",
            (status, body, key),
        )
