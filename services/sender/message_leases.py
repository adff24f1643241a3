"""Which sender process sends which single message: leases in PostgreSQL, records fenced by
the message stream's version.

Single messages (transactional, campaign tests, opt-in confirmations, admin notifications)
wait in the ``message_deliveries`` read model. A process claims a few at a time: one
statement takes each due message that no live lease holds and that is not done, inserting or
taking over its row in ``sender.message_leases`` (``INSERT ... ON CONFLICT DO UPDATE ...
WHERE`` re-checks a row another claimer just wrote, so two processes never hold one message).
The holder renews its leases while it sends; if it dies, the lease runs out and any process
takes the message over (resending at most what was in flight, as for chunks).

A holder records an outcome in one transaction: the events, appended at the stream version
it read after claiming (a process that took the message over and recorded meanwhile makes
this append conflict), and its lease row, updated only if it still holds it. A final outcome
marks the row ``done`` (never claimed again, even before the read model shows it); a retry
leaves it free from ``retry_at`` on. Lease times are the database's clock. Same design as the
chunk leases (``leases.py``); ``docs/sender.md`` says why a lease table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.base import EventMetadata
from events.store import START, ConcurrencyError, Position, StreamAppend, append

log = structlog.get_logger(__name__)

NOTIFY = "NOTIFY postlog_events"
DONE_KEPT = "1 hour"  # done lease rows are deleted this long after (the read model says it)

Conn = psycopg.AsyncConnection[Any]
BuildRecord = Callable[[Conn], Awaitable[Sequence[StreamAppend]]]

_CLAIM = """
WITH due AS (
    SELECT d.message_id FROM readmodel.message_deliveries d
    LEFT JOIN sender.message_leases l ON l.message_id = d.message_id
    WHERE d.status IN ('requested', 'queued', 'retrying') AND d.due_at <= now()
      AND (l.message_id IS NULL OR (NOT l.done AND l.lease_until <= now()))
    ORDER BY d.due_at, d.message_id
    LIMIT %(limit)s),
claimed AS (
    INSERT INTO sender.message_leases AS l (message_id, holder, lease_until, updated_at)
    SELECT message_id, %(holder)s, now() + %(lease)s::interval, now() FROM due
    ON CONFLICT (message_id) DO UPDATE SET holder = EXCLUDED.holder,
        lease_until = EXCLUDED.lease_until, updated_at = now()
    WHERE NOT l.done AND l.lease_until <= now()
    RETURNING l.message_id)
SELECT d.message_id::text, d.kind, d.subscriber_id, d.campaign_id, d.request, d.source_tx,
       d.source_gp, d.created_at
FROM claimed c JOIN readmodel.message_deliveries d ON d.message_id = c.message_id
ORDER BY d.due_at
"""


@dataclass(frozen=True)
class ClaimedMessage:
    """A message this process now holds, as the read model described it when claimed.
    ``source``: the log position of the event that created the row (a request waits until
    the read models it renders from have passed it)."""

    message_id: str
    kind: str
    subscriber_id: int | None
    campaign_id: int | None
    created_at: datetime
    source: Position = START
    request: dict[str, Any] = field(default_factory=dict)


class LostMessage(Exception):
    """Another process holds the message now (this holder's lease ran out)."""


class MessageLeases:
    """The message leases of one sender process (``holder`` names it)."""

    def __init__(self, pool: AsyncConnectionPool[Any], holder: str, *,
                 lease_seconds: float) -> None:
        self.pool = pool
        self.holder = holder
        self.lease = f"{lease_seconds} seconds"
        self.metadata = EventMetadata(actor="system:sender", causation_id=holder)

    async def claim(self, limit: int) -> list[ClaimedMessage]:
        """Take up to ``limit`` due messages nobody holds, oldest due first."""
        if limit < 1:
            return []
        async with self.pool.connection() as conn:
            try:
                cur = await conn.cursor(row_factory=tuple_row).execute(
                    _CLAIM, {"limit": limit, "holder": self.holder, "lease": self.lease})
            except psycopg.errors.UndefinedTable:  # a fresh install before its projector ran
                return []
            rows = await cur.fetchall()
        return [ClaimedMessage(message_id=r[0], kind=r[1], subscriber_id=r[2],
                               campaign_id=r[3], request=dict(r[4] or {}),
                               source=Position(int(r[5]), int(r[6])), created_at=r[7])
                for r in rows]

    async def renew(self, message_ids: Sequence[str]) -> None:
        """Extend the leases of the messages in hand."""
        if not message_ids:
            return
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE sender.message_leases SET lease_until = now() + %s::interval"
                " WHERE message_id = ANY(%s::uuid[]) AND holder = %s",
                (self.lease, list(message_ids), self.holder))

    async def record(self, message_id: str, build: BuildRecord, *, done: bool,
                     not_before: datetime | None = None) -> None:
        """Append what ``build(conn)`` gives and update the lease in one transaction:
        ``done`` for a final outcome, else free the message from ``not_before`` (now when
        None). Raises ``LostMessage`` (nothing written) when another process holds it now or
        recorded meanwhile."""
        try:
            async with self.pool.connection() as conn:
                async with conn.transaction():
                    appends = await build(conn)
                    if appends:
                        await append(conn, appends, self.metadata)
                    cur = await conn.execute(
                        "UPDATE sender.message_leases SET holder = NULL, done = %s,"
                        " lease_until = COALESCE(%s, now()), updated_at = now()"
                        " WHERE message_id = %s AND holder = %s",
                        (done, not_before, message_id, self.holder))
                    if cur.rowcount == 0:
                        raise LostMessage(message_id)
                if appends:
                    await conn.execute(NOTIFY)
        except (ConcurrencyError, psycopg.errors.UniqueViolation) as exc:
            # a conflict on the stream, or on a notification's key: another process recorded
            raise LostMessage(message_id) from exc

    async def release(self, message_id: str, *, after_seconds: float = 0.0) -> None:
        """Let go of a message without recording anything: any process may take it
        ``after_seconds`` from now (a request whose read models lag, a shutdown)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE sender.message_leases SET holder = NULL,"
                " lease_until = now() + %s * interval '1 second', updated_at = now()"
                " WHERE message_id = %s AND holder = %s",
                (after_seconds, message_id, self.holder))

    async def finish(self, message_id: str) -> None:
        """Mark a message done that its stream already settles (recorded by another process
        before the read model showed it)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE sender.message_leases SET holder = NULL, done = true,"
                " updated_at = now() WHERE message_id = %s AND holder = %s",
                (message_id, self.holder))

    async def prune(self) -> int:
        """Delete the rows of messages done for a while that the read model shows settled
        (or no longer has: erased). A row deleted too early costs a stream read, not a
        resend: the stream decides."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM sender.message_leases l WHERE l.done"
                f" AND l.updated_at < now() - interval '{DONE_KEPT}'"
                " AND NOT EXISTS (SELECT 1 FROM readmodel.message_deliveries d"
                " WHERE d.message_id = l.message_id"
                " AND d.status IN ('requested', 'queued', 'retrying'))")
        pruned = int(cur.rowcount)
        if pruned:
            log.info("message_leases_pruned", count=pruned)
        return pruned
