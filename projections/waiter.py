"""Read-your-writes: wait until named projections have reached a log position (bounded)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.store import Position


class ProjectionWaiter:
    """Polls the projection checkpoints with a short back-off until they pass a position."""

    def __init__(self, pool: AsyncConnectionPool[Any], timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    async def wait(self, position: Position | None, projections: Sequence[str]) -> bool:
        """True once every projection is at or past ``position``; False after the timeout."""
        if position is None or not projections:
            return True
        deadline = time.monotonic() + self._timeout
        delay = 0.002
        while True:
            if await self._reached(position, projections):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _reached(self, position: Position, projections: Sequence[str]) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.cursor(row_factory=tuple_row).execute(
                "SELECT count(*) FROM readmodel.projection_checkpoints"
                " WHERE name = ANY(%s) AND (tx_id, global_position) >= (%s::text::xid8, %s)",
                (list(projections), position.tx_id, position.global_position),
            )
            row = await cur.fetchone()
            return bool(row and row[0] == len(set(projections)))
