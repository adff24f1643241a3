"""Connection pools: one for the command side and processes, one read-only for the query side."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from postlog.settings import Settings

READER_ROLE = "postlog_reader"


async def _configure_reader(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute(f"SET ROLE {READER_ROLE}")
    await conn.execute("SET default_transaction_read_only = on")
    await conn.commit()


async def open_pool(settings: Settings, *, name: str, read_only: bool = False,
                    max_size: int | None = None) -> AsyncConnectionPool[Any]:
    """Open a pool; a read-only pool's sessions can only SELECT from schema readmodel."""
    assert settings.database_url, "database_url must be resolved before opening pools"
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=max_size or settings.db_pool_max,
        name=name,
        open=False,
        configure=_configure_reader if read_only else None,
        kwargs={"autocommit": True, "application_name": f"postlog-{name}"},
    )
    await pool.open(wait=True, timeout=30)
    return pool
