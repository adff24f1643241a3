"""Chunk leases in PostgreSQL, and a chunk holder's records fenced by its stream's version.

Several sender processes share a campaign by claiming chunks (``docs/sender.md`` says why a
lease table and not a JetStream work queue). Every claim runs under the campaign's row lock in
``sender.campaign_runs``, so two processes never cut overlapping chunks; ``planning.next_step``
decides what to take. Claiming a chunk appends ``delivery.chunk_claimed`` to its stream, and
every later record of the holder is appended at the version it knows: once another process
has claimed the chunk (the holder's lease ran out), the holder's next append conflicts and it
drops the chunk (``LostChunk``), so a stale holder can never record anything after a new one
took over. Lease times are the database's clock, so the machines' clocks never matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.base import Event, EventMetadata
from events.crypto import load_keys
from events.deliveries import ChunkClaimed, ChunkCompleted, chunk_stream
from events.store import ConcurrencyError, StreamAppend, append, read_stream
from services.sender.campaign_plan import CampaignPlan
from services.sender.planning import (
    Allocate,
    ChunkRow,
    Complete,
    Reclaim,
    Wait,
    chunk_range,
    chunks_to_reopen,
    next_step,
)
from services.sender.progress import ChunkState, Pending, evolve, fold
from services.sender.recipients import Audience, first_ids

log = structlog.get_logger(__name__)

NOTIFY = "NOTIFY postlog_events"


class LostChunk(Exception):
    """Another process took the chunk over (this holder's lease ran out): stop working on it."""


@dataclass
class HeldChunk:
    """A chunk this process holds: its range, its round, the version of its stream after the
    holder's last append (the fencing token) and its state folded from that stream."""

    campaign_id: int
    chunk: int
    after_id: int
    last_id: int
    round: int
    version: int
    state: ChunkState


Claim = HeldChunk | Wait | Complete


def _now() -> datetime:
    return datetime.now(UTC)


class ChunkLeases:
    """The lease table of one sender process (``holder`` names it)."""

    def __init__(self, pool: AsyncConnectionPool[Any], holder: str, *, lease_seconds: float,
                 master_key: bytes | None = None) -> None:
        self.pool = pool
        self.holder = holder
        self.lease = f"{lease_seconds} seconds"
        self.master_key = master_key
        self.metadata = EventMetadata(actor="system:sender", causation_id=holder)

    async def open_run(self, campaign_id: int, launch_version: int) -> None:
        """Make sure the campaign has its run row; a newer start or resume than the one
        recorded there starts counting errors afresh (``app.max_send_errors``)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO sender.campaign_runs (campaign_id, launch_version)"
                " VALUES (%s, %s) ON CONFLICT (campaign_id) DO UPDATE"
                " SET launch_version = EXCLUDED.launch_version, errors = 0, updated_at = now()"
                " WHERE sender.campaign_runs.launch_version < EXCLUDED.launch_version",
                (campaign_id, launch_version))

    async def claim(self, plan: CampaignPlan, audience: Audience, chunk_size: int) -> Claim:
        """Take the next chunk of ``plan`` (a dead holder's first, else a new one), or say
        that others hold the rest (``Wait``) or that every chunk is done (``Complete``)."""
        async with self.pool.connection() as conn:
            try:
                async with conn.transaction():
                    claimed = await self._claim(conn, plan, audience, chunk_size)
            except ConcurrencyError as exc:
                # The holder whose lease ran out recorded at the same moment: it is alive
                # after all, and keeps the chunk; look again later.
                log.info("chunk_claim_raced", campaign_id=plan.campaign_id,
                         stream=exc.stream_id)
                return Wait()
            if isinstance(claimed, HeldChunk):
                await conn.execute(NOTIFY)
        return claimed

    async def _claim(self, conn: psycopg.AsyncConnection[Any], plan: CampaignPlan,
                     audience: Audience, chunk_size: int) -> Claim:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT covered_through, next_chunk FROM sender.campaign_runs"
            " WHERE campaign_id = %s FOR UPDATE", (plan.campaign_id,))
        run = await cur.fetchone()
        if run is None:
            raise RuntimeError(f"campaign {plan.campaign_id} has no run row (open_run first)")
        covered, next_chunk = int(run[0]), int(run[1])
        rows = await self._unfinished(conn, plan.campaign_id)
        while True:
            step = next_step(rows, covered_through=covered,
                             max_subscriber_id=plan.max_subscriber_id,
                             allocate=plan.running, min_round=0 if plan.running else 1)
            if isinstance(step, Reclaim):
                return await self._reclaim(conn, plan.campaign_id, step.row)
            if not isinstance(step, Allocate):
                return step
            ids = await first_ids(conn, audience, step.after_id, plan.max_subscriber_id,
                                  chunk_size)
            cut = chunk_range(step.after_id, ids, chunk_size, plan.max_subscriber_id)
            if cut is None:  # nobody left to cut a chunk for
                covered = plan.max_subscriber_id
                await conn.execute(
                    "UPDATE sender.campaign_runs SET covered_through = GREATEST(covered_through,"
                    " %s), updated_at = now() WHERE campaign_id = %s",
                    (covered, plan.campaign_id))
                continue
            return await self._allocate(conn, plan.campaign_id, next_chunk, cut)

    async def _unfinished(self, conn: psycopg.AsyncConnection[Any], campaign_id: int
                          ) -> list[ChunkRow]:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT chunk_no, after_id, last_id, round, done,"
            " holder IS NULL OR lease_until < now(), failed FROM sender.chunks"
            " WHERE campaign_id = %s AND NOT done ORDER BY chunk_no", (campaign_id,))
        return [ChunkRow(chunk=int(r[0]), after_id=int(r[1]), last_id=int(r[2]),
                         round=int(r[3]), done=bool(r[4]), claimable=bool(r[5]),
                         failed=int(r[6])) for r in await cur.fetchall()]

    async def _reclaim(self, conn: psycopg.AsyncConnection[Any], campaign_id: int,
                       row: ChunkRow) -> HeldChunk:
        stream = chunk_stream(campaign_id, row.chunk)
        recorded = await read_stream(conn, stream)
        state = fold(r.decode() for r in recorded)
        claim = ChunkClaimed(campaign_id=campaign_id, chunk=row.chunk, after_id=row.after_id,
                             last_id=row.last_id, round=row.round, holder=self.holder,
                             at=_now())
        await append(conn, [StreamAppend(stream, len(recorded), [claim])], self.metadata)
        await self._take(conn, campaign_id, row.chunk)
        held_state = evolve(state, claim)
        assert held_state is not None
        return HeldChunk(campaign_id=campaign_id, chunk=row.chunk, after_id=row.after_id,
                         last_id=row.last_id, round=row.round, version=len(recorded) + 1,
                         state=held_state)

    async def _allocate(self, conn: psycopg.AsyncConnection[Any], campaign_id: int, chunk: int,
                        cut: tuple[int, int]) -> HeldChunk:
        after_id, last_id = cut
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "UPDATE sender.campaign_runs SET covered_through = %s, next_chunk = next_chunk + 1,"
            " updated_at = now() WHERE campaign_id = %s RETURNING retry_round",
            (last_id, campaign_id))
        row = await cur.fetchone()
        round_ = int(row[0]) if row else 0
        await conn.execute(
            "INSERT INTO sender.chunks (campaign_id, chunk_no, after_id, last_id, round)"
            " VALUES (%s, %s, %s, %s, %s)", (campaign_id, chunk, after_id, last_id, round_))
        claim = ChunkClaimed(campaign_id=campaign_id, chunk=chunk, after_id=after_id,
                             last_id=last_id, round=round_, holder=self.holder, at=_now())
        await append(conn, [StreamAppend(chunk_stream(campaign_id, chunk), 0, [claim])],
                     self.metadata)
        await self._take(conn, campaign_id, chunk)
        state = evolve(None, claim)
        assert state is not None
        return HeldChunk(campaign_id=campaign_id, chunk=chunk, after_id=after_id,
                         last_id=last_id, round=round_, version=1, state=state)

    async def _take(self, conn: psycopg.AsyncConnection[Any], campaign_id: int, chunk: int
                    ) -> None:
        await conn.execute(
            f"UPDATE sender.chunks SET holder = %s, lease_until = now() + interval '{self.lease}'"
            " WHERE campaign_id = %s AND chunk_no = %s", (self.holder, campaign_id, chunk))

    async def record(self, held: HeldChunk, pending: Pending, messenger: str, *,
                     complete: bool = False) -> int:
        """Append what ``pending`` holds (and ``delivery.chunk_completed`` when ``complete``)
        at the holder's version, renew the lease, and count the failures against
        ``app.max_send_errors``; the campaign's failures since its last (re)start. Raises
        ``LostChunk`` when another process took the chunk over: nothing is written then."""
        events: list[Event] = []
        try:
            async with self.pool.connection() as conn:
                async with conn.transaction():
                    if pending:
                        keys = await load_keys(conn, pending.failed_ids(),
                                               master_key=self.master_key)
                        events += [part.event(campaign_id=held.campaign_id, chunk=held.chunk,
                                              messenger=messenger, keys=keys, at=_now())
                                   for part in pending.split()]
                    if complete:
                        events.append(ChunkCompleted(campaign_id=held.campaign_id,
                                                     chunk=held.chunk, at=_now()))
                    if events:
                        await append(conn, [StreamAppend(
                            chunk_stream(held.campaign_id, held.chunk), held.version, events)],
                            self.metadata)
                    errors = await self._after_record(conn, held, pending, complete)
                if events:
                    await conn.execute(NOTIFY)
        except ConcurrencyError as exc:
            raise LostChunk(f"chunk {held.chunk} of campaign {held.campaign_id}") from exc
        for event in events:
            evolve(held.state, event)
        held.version += len(events)
        return errors

    async def _after_record(self, conn: psycopg.AsyncConnection[Any], held: HeldChunk,
                            pending: Pending, complete: bool) -> int:
        failed_now = len((set(held.state.failed) | set(pending.failed_ids()))
                         - set(pending.delivered))
        # Done only if no retry round reopened the chunk meanwhile; a finished holder lets go.
        cur = await conn.execute(
            "UPDATE sender.chunks SET failed = %(failed)s,"
            " done = done OR (%(complete)s AND round = %(round)s),"
            f" lease_until = CASE WHEN %(complete)s THEN now()"
            f" ELSE now() + interval '{self.lease}' END,"
            " holder = CASE WHEN %(complete)s THEN NULL ELSE holder END"
            " WHERE campaign_id = %(campaign)s AND chunk_no = %(chunk)s AND holder = %(holder)s",
            {"failed": failed_now, "complete": complete, "round": held.round,
             "campaign": held.campaign_id, "chunk": held.chunk, "holder": self.holder})
        if cur.rowcount == 0:
            raise ConcurrencyError(chunk_stream(held.campaign_id, held.chunk), held.version)
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "UPDATE sender.campaign_runs SET errors = errors + %s, updated_at = now()"
            " WHERE campaign_id = %s RETURNING errors", (len(pending.failed), held.campaign_id))
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def renew(self, held: HeldChunk) -> None:
        """Extend the lease of a chunk that has nothing to record yet; ``LostChunk`` if another
        process holds it now."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"UPDATE sender.chunks SET lease_until = now() + interval '{self.lease}'"
                " WHERE campaign_id = %s AND chunk_no = %s AND holder = %s",
                (held.campaign_id, held.chunk, self.holder))
        if cur.rowcount == 0:
            raise LostChunk(f"chunk {held.chunk} of campaign {held.campaign_id}")

    async def release(self, held: HeldChunk) -> None:
        """Let go of a chunk not finished (pause, shutdown): any process may take it now."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE sender.chunks SET holder = NULL, lease_until = now()"
                " WHERE campaign_id = %s AND chunk_no = %s AND holder = %s",
                (held.campaign_id, held.chunk, self.holder))

    async def apply_retry_round(self, campaign_id: int, round_: int) -> list[int]:
        """Reopen the campaign's chunks that have failed deliveries for retry ``round_``
        (once: a round already applied changes nothing); the chunks reopened."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO sender.campaign_runs (campaign_id) VALUES (%s)"
                " ON CONFLICT DO NOTHING", (campaign_id,))
            cur = await conn.cursor(row_factory=tuple_row).execute(
                "SELECT retry_round FROM sender.campaign_runs WHERE campaign_id = %s"
                " FOR UPDATE", (campaign_id,))
            row = await cur.fetchone()
            if row is None or int(row[0]) >= round_:
                return []
            cur = await conn.cursor(row_factory=tuple_row).execute(
                "SELECT chunk_no, after_id, last_id, round, done, true, failed"
                " FROM sender.chunks WHERE campaign_id = %s AND failed > 0", (campaign_id,))
            rows = [ChunkRow(chunk=int(r[0]), after_id=int(r[1]), last_id=int(r[2]),
                             round=int(r[3]), done=bool(r[4]), failed=int(r[6]))
                    for r in await cur.fetchall()]
            reopened = chunks_to_reopen(rows, round_)
            await conn.execute(
                "UPDATE sender.chunks SET round = %s, done = false"
                " WHERE campaign_id = %s AND chunk_no = ANY(%s)",
                (round_, campaign_id, reopened))
            await conn.execute(
                "UPDATE sender.campaign_runs SET retry_round = %s, updated_at = now()"
                " WHERE campaign_id = %s", (round_, campaign_id))
            return reopened

    async def has_reopened(self, campaign_id: int) -> bool:
        """Whether a retry round reopened chunks of the campaign that are not done yet."""
        async with self.pool.connection() as conn:
            cur = await conn.cursor(row_factory=tuple_row).execute(
                "SELECT EXISTS (SELECT 1 FROM sender.chunks WHERE campaign_id = %s"
                " AND NOT done AND round > 0)", (campaign_id,))
            row = await cur.fetchone()
        return bool(row and row[0])

    async def campaigns_to_look_at(self) -> tuple[list[int], list[tuple[int, int]]]:
        """Campaigns with work outside a run (chunks reopened by a retry round), and retry
        rounds asked for (``campaign id, round``) that no process has applied yet."""
        async with self.pool.connection() as conn:
            cur = await conn.cursor(row_factory=tuple_row).execute(
                "SELECT DISTINCT campaign_id FROM sender.chunks WHERE NOT done AND round > 0")
            reopened = [int(r[0]) for r in await cur.fetchall()]
            cur = await conn.cursor(row_factory=tuple_row).execute(
                "SELECT d.campaign_id, d.round FROM readmodel.delivery_retry_rounds d"
                " LEFT JOIN sender.campaign_runs r USING (campaign_id)"
                " WHERE d.round > COALESCE(r.retry_round, 0)")
            rounds = [(int(r[0]), int(r[1])) for r in await cur.fetchall()]
        return reopened, rounds
