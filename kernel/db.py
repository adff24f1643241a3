"""Connection pools: one for the command side and processes, one read-only for the query side.

Every pool checks a connection before handing it out, so a backend that was terminated
(``pg_terminate_backend``, a server restart, a failover) while its connection sat idle is
replaced instead of failing the next request. The check costs no round trip on the hot path:
a connection resting in the pool has nothing to read unless the server said something (its
goodbye, ``FATAL 57P01``, then end of file), so only then is it pinged. TCP keepalives make a
peer that vanished without a word (a cut network) show up the same way within about a minute.

The check runs in ``CheckedPool.getconn`` rather than as psycopg_pool's ``check=`` callback:
that one sleeps after every failed check (1 s, then doubling), so a pool whose idle
connections were all terminated made a request wait 1 s for two dead connections, 7.7 s for
four and time out (30 s) for six. Here dead connections are discarded one after the other at
once, and the request takes the next live one or waits for a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import time
from typing import Any

import psycopg
import structlog
from psycopg import pq
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from kernel.settings import Settings

log = structlog.get_logger(__name__)

READER_ROLE = "postlog_reader"

# libpq keepalive settings for every connection we open: a silently dead peer is noticed
# after idle + interval * count seconds (the libpq default idle time is the OS's two hours).
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}

# SQLSTATEs meaning "this session is gone, another may work": admin shutdown (a terminated
# backend), crash shutdown, cannot connect now (starting or stopping), idle session timeout.
# Class 08 (connection exception) is added below.
_SESSION_LOST = frozenset({"57P01", "57P02", "57P03", "57P05"})


def connection_kwargs(name: str) -> dict[str, Any]:
    """Keyword arguments for a connection of process part ``name`` (``application_name``
    ``postlog-<name>``, as ``pg_stat_activity`` shows it)."""
    return {"autocommit": True, "application_name": f"postlog-{name}", **KEEPALIVES}


def is_connection_lost(exc: BaseException, conn: psycopg.AsyncConnection[Any] | None = None
                       ) -> bool:
    """Whether ``exc`` means the session died (the same work may succeed on a fresh one).

    A pool that timed out or was closed is not a lost connection: retrying would only wait
    or fail again.
    """
    if isinstance(exc, PoolTimeout | PoolClosed) or not isinstance(exc, psycopg.Error):
        return False
    if conn is not None and (conn.broken or conn.closed):
        return True
    sqlstate = exc.sqlstate or ""
    if sqlstate in _SESSION_LOST or sqlstate.startswith("08"):
        return True
    # libpq's own "server closed the connection unexpectedly" and friends carry no SQLSTATE.
    return not sqlstate and isinstance(exc, psycopg.OperationalError)


def _has_input(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server sent something to a connection that should be silent."""
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


async def check_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """Raise if ``conn`` is dead, so the pool replaces it.

    An idle connection that has input pending (a terminated backend's farewell, end of file)
    gets the full round trip of ``AsyncConnectionPool.check_connection``; one with nothing to
    read is handed out as it is (a poll costs about 1 µs, a round trip about 90 µs).
    """
    if conn.closed or conn.broken or conn.pgconn.status != pq.ConnStatus.OK:
        raise psycopg.OperationalError("the connection is closed")
    if _has_input(conn):
        await AsyncConnectionPool.check_connection(conn)


class CheckedPool(AsyncConnectionPool[psycopg.AsyncConnection[Any]]):
    """A pool that never hands out a connection it can tell is dead (see the module doc)."""

    async def getconn(
        self, timeout: float | None = None  # noqa: ASYNC109 (the overridden signature)
    ) -> psycopg.AsyncConnection[Any]:
        total = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + total
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PoolTimeout(f"couldn't get a live connection after {total:.2f} sec")
            conn = await super().getconn(remaining)
            try:
                await check_connection(conn)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await conn.close()  # so the pool discards it and opens another
                await self.putconn(conn)
                log.info("db_pool_dead_connection_dropped", pool=self.name, error=str(exc))
                continue
            except BaseException:
                await self.putconn(conn)
                raise
            return conn


async def drop_dead_connections(pool: AsyncConnectionPool[Any], seconds: float = 5.0) -> None:
    """Ping every idle connection of ``pool`` and replace the dead ones.

    Called when one connection turned out dead: its idle siblings most likely died with it (a
    restart, a terminated set of backends), but ``pg_terminate_backend`` returns before the
    backends have said goodbye, so the cheap check of ``getconn`` may not see it yet. A retry
    then gets a connection that was really tried. Never raises.
    """
    try:
        await asyncio.wait_for(pool.check(), seconds)
    except Exception as exc:
        log.info("db_pool_check_failed", pool=pool.name, error=str(exc))


async def _configure_reader(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute(f"SET ROLE {READER_ROLE}")
    await conn.execute("SET default_transaction_read_only = on")
    await conn.commit()


async def _reconnect_failed(pool: AsyncConnectionPool[Any]) -> None:
    # The pool keeps serving and grows again on demand once the database is back.
    log.warning("db_pool_reconnect_failed", pool=pool.name)


async def open_pool(settings: Settings, *, name: str, read_only: bool = False,
                    max_size: int | None = None) -> AsyncConnectionPool[Any]:
    """Open a pool; a read-only pool's sessions can only SELECT from schema readmodel."""
    assert settings.database_url, "database_url must be resolved before opening pools"
    pool = CheckedPool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=max_size or settings.db_pool_max,
        name=name,
        open=False,
        configure=_configure_reader if read_only else None,
        reconnect_failed=_reconnect_failed,
        kwargs=connection_kwargs(name),
    )
    await pool.open(wait=True, timeout=30)
    return pool
