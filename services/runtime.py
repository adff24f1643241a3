"""The resources a running postlog process shares: settings, pools, waiter, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from kernel.db import open_pool
from kernel.logring import LogShipper
from kernel.metrics import Metrics
from kernel.settings import Settings
from projections.waiter import ProjectionWaiter
from services.live_settings import LiveSettings


@dataclass
class Runtime:
    """Handed to every service; opened once per process (see ``open_runtime``)."""

    settings: Settings
    pool: AsyncConnectionPool[Any]
    read_pool: AsyncConnectionPool[Any]
    waiter: ProjectionWaiter
    metrics: Metrics
    # The application settings in force (listmonk's /api/settings), secrets opened, kept
    # current without a restart; loaded on first use (``await live_settings.get()``).
    live_settings: LiveSettings


@asynccontextmanager
async def open_runtime(
    settings: Settings, metrics: Metrics | None = None
) -> AsyncIterator[Runtime]:
    pool = await open_pool(settings, name="command")
    read_pool = await open_pool(settings, name="query", read_only=True)
    waiter = ProjectionWaiter(pool, settings.read_your_writes_timeout)
    live_settings = LiveSettings(pool, settings)
    log_shipper = LogShipper(settings)  # this process's log lines to /api/logs (NATS)
    await log_shipper.start()
    try:
        yield Runtime(
            settings=settings,
            pool=pool,
            read_pool=read_pool,
            waiter=waiter,
            metrics=metrics or Metrics(),
            live_settings=live_settings,
        )
    finally:
        await log_shipper.close()
        await live_settings.close()  # its LISTEN connection and poll
        await waiter.close()  # its LISTEN connection
        await read_pool.close()
        await pool.close()
