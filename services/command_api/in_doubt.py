"""A command whose connection was lost while it committed: did it commit or not?

When the connection dies during ``COMMIT`` the client cannot tell: the server may have made
the transaction durable just before the session ended (a terminated backend finishes its
commit and then exits), or never received the ``COMMIT``. Retrying blindly would append the
command twice, or answer 409 for the client's own write (its e-mail is already taken by it).

The command's event ids are fixed before it appends, so the answer is in the log: on a fresh
connection, first wait until the transaction is no longer in progress (``pg_xact_status``; a
backend still holding it behind a dead network is ended), then look the first event id up. If
it is there the command committed, and its position is that transaction's last event;
otherwise it rolled back and may run again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from events.store import Position

log = structlog.get_logger(__name__)

# How long to keep trying to learn the outcome (the database may be restarting).
SETTLE_SECONDS = 10.0
# How long to wait for a backend still holding the transaction to end once told to.
TERMINATE_WAIT_MS = 1000


@dataclass(frozen=True)
class PendingCommit:
    """What a command knows when it sends ``COMMIT``: enough to find out whether it landed."""

    tx_id: int  # the transaction's xid8 (every event of it carries it)
    first_event_id: uuid.UUID
    backend_pid: int
    result: dict[str, Any]
    appended: int


@dataclass(frozen=True)
class Committed:
    position: Position


@dataclass(frozen=True)
class RolledBack:
    """Nothing of the command is in the log: running it again is safe."""


@dataclass(frozen=True)
class InProgress:
    """The transaction is still open on the server (its session has not noticed yet)."""


@dataclass(frozen=True)
class Unknown:
    """The outcome could not be established (the database stayed out of reach)."""

    reason: str


Verdict = Committed | RolledBack | InProgress | Unknown


def verdict(status: str | None, found: Position | None) -> Verdict:
    """The outcome from ``pg_xact_status`` of the transaction and the position of its first
    event when that event exists.

    The event decides: present means committed whatever the status says. Absent means rolled
    back only once the transaction is over; a transaction reported committed whose events are
    missing cannot be explained, so nothing is assumed.
    """
    if found is not None:
        return Committed(found)
    if status == "in progress":
        return InProgress()
    if status == "committed":
        return Unknown("transaction committed but its events are not in the log")
    return RolledBack()  # "aborted", or NULL: too old to know, and nothing was appended


async def settle(pool: AsyncConnectionPool[Any], pending: PendingCommit,
                 *, seconds: float = SETTLE_SECONDS) -> Committed | RolledBack | Unknown:
    """Find out, on fresh connections, whether the command of ``pending`` committed."""
    deadline = time.monotonic() + seconds
    delay = 0.01
    last_error = ""
    while True:
        try:
            async with pool.connection(timeout=max(0.1, deadline - time.monotonic())) as conn:
                found = await _look(conn, pending)
                if isinstance(found, InProgress):
                    await _end_backend(conn, pending)
                    found = await _look(conn, pending)
            if not isinstance(found, InProgress):
                return found
            last_error = "transaction still in progress"
        except (psycopg.OperationalError, PoolTimeout) as exc:
            last_error = str(exc)
            log.info("commit_outcome_check_failed", tx_id=pending.tx_id, error=last_error)
        if time.monotonic() + delay > deadline:
            return Unknown(last_error)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)


async def _look(conn: psycopg.AsyncConnection[Any], pending: PendingCommit) -> Verdict:
    # Status first, in its own statement: once the transaction is over, the next statement's
    # snapshot sees its rows if it committed.
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT pg_xact_status(%s::text::xid8)", (pending.tx_id,))
    row = await cur.fetchone()
    status = row[0] if row else None
    if status == "in progress":
        return verdict(status, None)
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT e.tx_id::text::bigint, (SELECT max(t.global_position) FROM eventlog.events t"
        " WHERE t.tx_id = e.tx_id) FROM eventlog.events e WHERE e.event_id = %s",
        (pending.first_event_id,))
    row = await cur.fetchone()
    return verdict(status, Position(int(row[0]), int(row[1])) if row else None)


async def _end_backend(conn: psycopg.AsyncConnection[Any], pending: PendingCommit) -> None:
    """End the session still holding the transaction (its client is gone), so the transaction
    finishes one way or the other; matched by pid and xid, so no other session is touched."""
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid, %s) FROM pg_stat_activity"
            " WHERE pid = %s AND backend_xid::text = %s",
            (TERMINATE_WAIT_MS, pending.backend_pid, str(pending.tx_id & 0xFFFFFFFF)))
    except psycopg.errors.InsufficientPrivilege as exc:
        log.warning("commit_outcome_cannot_end_backend", pid=pending.backend_pid,
                    error=str(exc))
