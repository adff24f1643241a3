"""A postlog of its own for the settings tests: settings are global, so changing them on the
session's shared database would change them under every other test."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient

from kernel.nats import connect, ensure_stream
from kernel.settings import Settings
from postlog.app import create_app
from postlog.migrate import migrate
from postlog.supervisor import background_services
from projections.registry import ensure_read_models
from services.runtime import Runtime, open_runtime
from tests import servers

ROOT_URL = "http://mail.example.org/"
FROM_EMAIL = "News <news@example.org>"


@dataclass
class SettingsStack:
    app: Litestar
    runtime: Runtime
    settings: Settings

    def client(self, *, anonymous: bool = False) -> httpx.AsyncClient:
        assert self.settings.admin_user and self.settings.admin_password
        auth = None if anonymous else httpx.BasicAuth(self.settings.admin_user,
                                                      self.settings.admin_password)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                 base_url="http://testserver", auth=auth, timeout=60)

    async def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        async with self.runtime.pool.connection() as conn:
            cur = await conn.execute(query, params or None)
            return list(await cur.fetchall())


@asynccontextmanager
async def settings_stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    """Both APIs, the relay and the projector on a fresh database and NATS prefix, with a
    master key and process settings of their own."""
    url = servers.create_database(admin_pg_url)
    await migrate(url)
    own = settings.model_copy(update={
        "database_url": url, "nats_prefix": servers.sub_prefix(settings.nats_prefix),
        "root_url": ROOT_URL, "from_email": FROM_EMAIL,
        "master_key": base64.b64encode(os.urandom(32)).decode()})
    nc = await connect(own, "settings-tests")
    await ensure_stream(nc.jetstream(), own)
    await ensure_read_models(own)
    try:
        async with (open_runtime(own) as runtime,
                    background_services(runtime, ("relay", "projector"))):
            app = create_app(runtime)
            async with AsyncTestClient(app):
                yield SettingsStack(app, runtime, own)
    finally:
        try:
            await nc.jetstream().delete_stream(own.stream_name)
        finally:
            await nc.close()
            servers.drop_database(admin_pg_url, url)


async def use_smtp_server(stack: SettingsStack, host: str, port: int, **fields: Any) -> None:
    """Make the stack's first SMTP server (and only it) ``host:port``, plain, without AUTH,
    with ``fields`` on top; return once this process's live settings have it."""
    async with stack.client() as api:
        body = (await api.get("/api/settings")).json()["data"]
        body["smtp"] = [{**body["smtp"][0], "host": host, "port": port, "tls_type": "none",
                         "auth_protocol": "none", "enabled": True, **fields}]
        response = await api.put("/api/settings", json=body)
        assert response.status_code == 200, response.text
    live = stack.runtime.live_settings
    assert await live.wait_for(lambda s: s.smtp[0].port == port, 10)


async def put_setting(stack: SettingsStack, key: str, value: Any) -> None:
    """``PUT /api/settings/<key>``; return once this process's live settings have it."""
    async with stack.client() as api:
        response = await api.put(f"/api/settings/{key}", json=value)
        assert response.status_code == 200, response.text
    live = stack.runtime.live_settings
    field = key.replace(".", "_")
    assert await live.wait_for(lambda s: getattr(s, field) == value, 10)
