"""The application settings in force in this process, secrets opened, kept current without a
restart.

Every process that needs the settings (the sender's messengers and rates, the campaign start
check, templates' root URL, the SMTP test) reads them here. ``LiveSettings`` loads the
``settings`` read model once, opens the secrets with the settings key (``events.
settings_secrets``), and reloads when the ``settings`` projection moves: the projector's
``NOTIFY postlog_projections`` wakes it at once, and a poll (every ``POLL_SECONDS``, more often
while the listening connection is down) catches a missed notification. A ``PUT
/api/settings`` is therefore in force everywhere within about a second.

Reading the settings is cheap after the first load: ``current()`` is a plain attribute read;
a reload reads one row and opens the secrets only when its version moved.
Code that must react to a change (rebuilding SMTP pools) registers with ``on_change``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool

from events.crypto import master_key_from
from events.settings import AppSettings, default_settings
from events.settings_secrets import load_settings_key, map_secrets, open_secrets
from kernel.settings import Settings
from projections.listener import ChannelListener
from projections.storage import NOTIFY_CHANNEL
from readmodels.settings import StoredSettings, read_settings

log = structlog.get_logger(__name__)

PROJECTION = "settings"
POLL_SECONDS = 5.0  # while notifications flow
POLL_SECONDS_UNHEALTHY = 0.5  # while the listening connection is down

OnChange = Callable[[AppSettings], Awaitable[None] | None]


class LiveSettings:
    """The settings in force, secrets opened, refreshed when they change (one per process)."""

    def __init__(self, pool: AsyncConnectionPool[Any], settings: Settings) -> None:
        self._pool = pool
        self._process = settings
        self._master_key = master_key_from(settings.master_key)
        self._current = default_settings(root_url=settings.root_url,
                                         from_email=settings.from_email)
        self._version = -1  # nothing loaded yet
        self._callbacks: list[OnChange] = []
        self._changed = asyncio.Event()
        self._listener: ChannelListener | None = None
        self._poller: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def version(self) -> int:
        """The loaded settings' version (0: listmonk's defaults; -1: not loaded yet)."""
        return self._version

    def current(self) -> AppSettings:
        """The settings last loaded (the defaults before the first load: use ``get`` once)."""
        return self._current

    async def get(self) -> AppSettings:
        """The settings in force; the first call loads them and starts following changes."""
        self._start()
        if self._version < 0:
            await self.refresh()
        return self._current

    def on_change(self, callback: OnChange) -> None:
        """Call ``callback(settings)`` after every change this process sees."""
        self._callbacks.append(callback)

    def off_change(self, callback: OnChange) -> None:
        """Stop calling ``callback`` (what it rebuilds was closed)."""
        with contextlib.suppress(ValueError):
            self._callbacks.remove(callback)

    async def refresh(self, *, force: bool = False) -> AppSettings:
        """Read the settings now; secrets are opened again only if the stored version moved.
        ``force`` (``POST /api/admin/reload``) reopens them and tells every ``on_change``
        consumer even if nothing moved, so each rebuilds what it holds (SMTP pools)."""
        self._bind_to_running_loop()
        assert self._lock is not None
        async with self._lock:
            async with self._pool.connection(timeout=10) as conn:
                stored = await _read(conn, self._process)
                if stored.version == self._version and not force:
                    return self._current
                opened = await self._open(conn, stored)
            changed = stored.version != self._version
            self._current, self._version = opened, stored.version
        if changed or force:
            log.info("settings_loaded", version=stored.version)
            await self._notify(opened)
        return opened

    async def wait_for(self, predicate: Callable[[AppSettings], bool], within: float) -> bool:
        """True once ``predicate(current())`` holds (checked at each change); False after
        ``within`` seconds. For code (and tests) that must see a change applied."""
        await self.get()
        deadline = time.monotonic() + within
        while not predicate(self._current):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        return True

    async def close(self) -> None:
        """Stop following changes (the process is shutting down)."""
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    async def _open(self, conn: psycopg.AsyncConnection[Any], stored: StoredSettings
                    ) -> AppSettings:
        """``stored`` with its secrets opened; if they cannot be (no key, the master key
        missing or wrong), logged and blanked, so nothing uses a sealed token as a password."""
        try:
            key = (await load_settings_key(conn, stored.key_id, master_key=self._master_key)
                   if stored.key_id else None)
            return open_secrets(stored.settings, key)
        except Exception as exc:
            log.error("settings_secrets_unavailable", error=str(exc))
            return map_secrets(stored.settings, lambda _path, _value: "")

    async def _notify(self, settings: AppSettings) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        for callback in list(self._callbacks):
            try:
                result = callback(settings)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # one consumer's bug must not stop the others
                log.error("settings_change_callback_failed", error=repr(exc))

    def _bind_to_running_loop(self) -> None:
        """Tasks, locks and events belong to one event loop; start afresh in another."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._lock = asyncio.Lock()
            self._changed = asyncio.Event()
            self._listener = None
            self._poller = None

    def _start(self) -> None:
        self._bind_to_running_loop()
        if self._listener is None:
            self._listener = ChannelListener(self._pool.conninfo, NOTIFY_CHANNEL,
                                             self._on_notify, on_connect=self._on_connect,
                                             name="live-settings")
        self._listener.start()
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="live-settings-poll")

    async def _on_notify(self, names: list[str]) -> None:
        if PROJECTION in names:
            await self._refresh_quietly()

    async def _on_connect(self) -> None:
        await self._refresh_quietly()  # a change may have been missed while disconnected

    async def _poll(self) -> None:
        while True:
            healthy = self._listener is not None and self._listener.healthy
            await asyncio.sleep(POLL_SECONDS if healthy else POLL_SECONDS_UNHEALTHY)
            await self._refresh_quietly()

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # database trouble: keep the settings we have, try again
            log.warning("settings_refresh_failed", error=str(exc))


async def _read(conn: psycopg.AsyncConnection[Any], process: Settings) -> StoredSettings:
    """The stored settings; listmonk's defaults if the read model is not there yet."""
    try:
        async with conn.transaction():
            return await read_settings(conn, root_url=process.root_url,
                                       from_email=process.from_email)
    except psycopg.errors.UndefinedTable:
        return StoredSettings(settings=default_settings(root_url=process.root_url,
                                                        from_email=process.from_email))
