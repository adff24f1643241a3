"""An in-process postlog for HTTP tests: both APIs, the relay and the projector running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg_pool import AsyncConnectionPool

from kernel.db import open_pool
from kernel.nats import connect, ensure_stream
from kernel.settings import Settings
from postlog.app import create_app
from postlog.supervisor import background_services
from projections.registry import ensure_read_models
from services.runtime import Runtime, open_runtime
from tests.servers import sub_prefix


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    nc = await connect(settings, "tests")
    js = nc.jetstream()
    await ensure_stream(js, settings)
    await ensure_read_models(settings)
    try:
        async with open_runtime(settings) as rt:
            yield rt
    finally:
        try:
            await js.delete_stream(settings.stream_name)
        finally:
            await nc.close()


@pytest.fixture(scope="session")
async def running_services(runtime: Runtime) -> AsyncIterator[None]:
    async with background_services(runtime):
        yield


@pytest.fixture(scope="session")
async def app(runtime: Runtime, running_services: None) -> AsyncIterator[Litestar]:
    """The combined app with its lifespan started once for the session."""
    application = create_app(runtime)
    async with AsyncTestClient(application):
        yield application


def _client_for(app: Litestar, auth: httpx.Auth | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", auth=auth
    )


@pytest.fixture
async def api(app: Litestar, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client authenticated as the admin (BasicAuth, like listmonk's legacy admin)."""
    assert settings.admin_user and settings.admin_password
    auth = httpx.BasicAuth(settings.admin_user, settings.admin_password)
    async with _client_for(app, auth) as client:
        yield client


@pytest.fixture
async def anon(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The same app without credentials."""
    async with _client_for(app, None) as client:
        yield client


@pytest.fixture
def iso_settings(settings: Settings, fresh_database_url: str) -> Settings:
    """Settings of a database and NATS prefix of the test's own (an empty log)."""
    return settings.model_copy(update={"database_url": fresh_database_url,
                                       "nats_prefix": sub_prefix(settings.nats_prefix)})


@pytest.fixture
async def pool(iso_settings: Settings) -> AsyncIterator[AsyncConnectionPool[Any]]:
    """A connection pool on ``iso_settings``' database."""
    p = await open_pool(iso_settings, name="test")
    yield p
    await p.close()
