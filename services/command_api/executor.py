"""Runs a command in one transaction: idempotency check, the handler, append, record the outcome.

``execute_handler`` runs a command handler (``store.Handler``) on a ``PostgresEventStore`` of the
command's transaction: the handler loads what it needs, claims unique keys (the e-mail index),
stages its appends and returns a small result (such as the new id); ``execute`` then appends and
records the outcome. Everything commits together; a failed command appends nothing.

A lost database connection (a terminated backend, a restart) is not the client's problem:
lost before the commit, the command runs once more on a fresh connection; lost during the
commit, the outcome is looked up in the log by the command's event ids, which are fixed before
appending (``in_doubt``), so a command that did commit is answered, not run twice.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
import psycopg
import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from events.base import EventMetadata
from events.store import ConcurrencyError, Position, StreamAppend, append, derive_event_ids
from kernel.db import drop_dead_connections, is_connection_lost
from kernel.errors import Conflict, DomainError, Unprocessable
from services.command_api.in_doubt import Committed, PendingCommit, RolledBack, settle
from services.command_api.store import Handler, Ports, PostgresEventStore

log = structlog.get_logger(__name__)

NOTIFY_CHANNEL = "postlog_events"

# Runs of a command after its connection was lost (before or during the commit) before giving up.
LOST_CONNECTION_RETRIES = 1


UNAVAILABLE = "database unavailable; the command was not run; retry"


class DatabaseUnavailable(DomainError):
    """The command could not be run (or its outcome learnt) for lack of a working database."""

    status_code = 503


class _ConnectionLost(Exception):
    """The connection died before ``COMMIT`` was sent: nothing was committed."""


class _CommitInDoubt(Exception):
    """The connection died while committing: the command may or may not have committed."""

    def __init__(self, pending: PendingCommit) -> None:
        super().__init__(f"connection lost while committing transaction {pending.tx_id}")
        self.pending = pending


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


CommandFn = Callable[[psycopg.AsyncConnection[Any]], Awaitable[Decision]]


async def execute_handler(
    pool: AsyncConnectionPool[Any], ctx: CommandContext, handler: Handler, *,
    master_key: bytes | None = None, ports: Ports | None = None,
) -> CommandOutcome:
    """Run a command handler (``store.Handler``) as one command: the handler gets a
    ``PostgresEventStore`` on the command's transaction (and the ``ports`` it names, built on
    the same transaction), its staged appends are written and its result recorded, with
    everything ``execute`` guarantees (idempotency, retries)."""

    async def in_transaction(conn: psycopg.AsyncConnection[Any]) -> Decision:
        store = PostgresEventStore(conn, master_key)
        extra = {name: make(conn, master_key) for name, make in (ports or {}).items()}
        result = await handler(store, **extra)
        return Decision(store.staged, result)

    return await execute(pool, ctx, in_transaction)


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


async def execute(
    pool: AsyncConnectionPool[Any],
    ctx: CommandContext,
    work: CommandFn,
    *,
    attempts: int = 5,
) -> CommandOutcome:
    """Decide and append atomically, retrying on a version conflict (up to ``attempts``) and
    once after a lost connection; a command that committed is never run twice."""
    # Every run of this command appends the same event ids: derived from the client's
    # Idempotency-Key, or from a key made here for this call.
    ids_key = ctx.idempotency_key or f"command:{uuid.uuid4()}"
    conflicts = lost = 0
    while True:
        try:
            return await _execute_once(pool, ctx, work, ids_key)
        except ConcurrencyError as exc:
            conflicts += 1
            log.info("command_conflict_retry", stream=exc.stream_id, attempt=conflicts)
            if conflicts >= attempts:
                raise Conflict("the resource was changed concurrently; retry") from exc
            continue
        except _CommitInDoubt as exc:
            outcome = await _outcome_in_doubt(pool, exc.pending)
            if outcome is not None:
                return outcome
            error: Exception = exc
        except _ConnectionLost as exc:
            error = exc
        except PoolTimeout as exc:  # no connection to run it on: nothing was done
            log.warning("command_no_connection", error=str(exc))
            raise DatabaseUnavailable(UNAVAILABLE) from exc
        lost += 1
        cause = error.__cause__ or error
        if lost > LOST_CONNECTION_RETRIES:
            log.warning("command_connection_lost", attempt=lost, error=str(cause))
            raise DatabaseUnavailable(UNAVAILABLE) from cause
        log.info("command_connection_lost_retry", attempt=lost, error=str(cause))
        await drop_dead_connections(pool)


async def _outcome_in_doubt(
    pool: AsyncConnectionPool[Any], pending: PendingCommit
) -> CommandOutcome | None:
    """The outcome of a command whose commit was interrupted; None if it did not commit."""
    found = await settle(pool, pending)
    if isinstance(found, RolledBack):
        log.info("command_commit_rolled_back", tx_id=pending.tx_id)
        return None
    if not isinstance(found, Committed):
        log.error("command_outcome_unknown", tx_id=pending.tx_id, reason=found.reason)
        raise DatabaseUnavailable(
            "database connection lost while committing; the command's outcome is unknown")
    log.warning("command_committed_despite_lost_connection", position=str(found.position))
    await notify_appended(pool)
    return CommandOutcome(position=found.position, result=pending.result,
                          appended=pending.appended)


async def notify_appended(pool: AsyncConnectionPool[Any]) -> None:
    """Wake the relay after a commit; best effort (it polls anyway), so never raises."""
    try:
        async with pool.connection(timeout=5) as conn:
            await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    except Exception as exc:
        log.info("notify_failed", error=str(exc))


async def _execute_once(
    pool: AsyncConnectionPool[Any], ctx: CommandContext, work: CommandFn, ids_key: str
) -> CommandOutcome:
    async with pool.connection() as conn:
        pid = conn.info.backend_pid
        pending: PendingCommit | None = None
        try:
            async with conn.transaction():
                if ctx.idempotency_key:
                    previous = await _claim_key(conn, ctx)
                    if previous is not None:
                        return previous
                decision = await work(conn)
                position: Position | None = None
                appends = _with_derived_ids(ids_key, [a for a in decision.appends if a.events])
                if appends:
                    position = await append(conn, appends, ctx.metadata())
                if ctx.idempotency_key:
                    await _record_outcome(conn, ctx.idempotency_key, decision.result, position)
                appended = sum(len(a.events) for a in appends) if position is not None else 0
                if position is not None:  # the last thing before COMMIT
                    pending = PendingCommit(
                        tx_id=position.tx_id, first_event_id=appends[0].event_ids[0],
                        backend_pid=pid, result=decision.result, appended=appended)
        except psycopg.Error as exc:
            if not is_connection_lost(exc, conn):
                raise
            if pending is not None:
                raise _CommitInDoubt(pending) from exc
            # Lost before COMMIT was sent (or with nothing appended: then running the
            # command again changes nothing, an Idempotency-Key finds its first outcome).
            raise _ConnectionLost(str(exc)) from exc
        if position is not None:
            try:
                await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
            except psycopg.Error as exc:  # committed: the relay's poll will find it
                log.info("notify_failed", error=str(exc))
    return CommandOutcome(position=position, result=decision.result, appended=appended)


async def _record_outcome(
    conn: psycopg.AsyncConnection[Any], key: str, result: dict[str, Any],
    position: Position | None,
) -> None:
    await conn.execute(
        "UPDATE eventlog.idempotency SET result = %s::jsonb,"
        " tx_id = %s::text::xid8, global_position = %s WHERE key = %s",
        (
            msgspec.json.encode(result).decode(),
            position.tx_id if position else None,
            position.global_position if position else None,
            key,
        ),
    )


def _with_derived_ids(key: str, appends: Sequence[StreamAppend]) -> list[StreamAppend]:
    """The appends with their event ids fixed: ``uuid5(key#n)`` for the n-th event of the
    command (ids a decider chose itself are kept), so every run of a command and every retry
    of its Idempotency-Key appends the same ids."""
    total = sum(len(a.events) for a in appends)
    ids = derive_event_ids(key, total)
    out: list[StreamAppend] = []
    offset = 0
    for a in appends:
        chosen = a.event_ids or ids[offset : offset + len(a.events)]
        out.append(replace(a, event_ids=chosen))
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
) -> bool:
    """Remember the answer given for an idempotency key, so a retry gets the same bytes.

    The command has committed by now, so this never raises: it is tried again once on a fresh
    connection, and if it still fails (False) the answer is given anyway and a retry of the
    key is answered afresh from the command's stored outcome.
    """
    for attempt in (1, 2):
        try:
            async with pool.connection() as conn:
                await conn.execute(
                    "UPDATE eventlog.idempotency SET response_status = %s, response_body = %s"
                    " WHERE key = %s AND response_status IS NULL",
                    (status, body, key),
                )
            return True
        except Exception as exc:
            if attempt == 1 and is_connection_lost(exc):
                continue
            log.warning("idempotent_answer_not_stored", error=repr(exc))
    return False
