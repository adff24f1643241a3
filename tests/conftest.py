"""Shared fixtures: one fresh database and one unique NATS prefix per test session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from kernel.settings import Settings
from postlog.migrate import migrate
from tests import servers


@pytest.fixture(scope="session")
def admin_pg_url() -> Iterator[str]:
    with servers.admin_postgres_url() as url:
        yield url


@pytest.fixture(scope="session")
def nats_server_url() -> Iterator[str]:
    with servers.nats_url() as url:
        yield url


@pytest.fixture(scope="session")
async def nats_prefix(nats_server_url: str) -> AsyncIterator[str]:
    """This session's NATS prefix; tests needing their own derive it with ``sub_prefix``.

    At the end every stream whose name starts with the session's stream name is deleted, so
    test runs leave nothing behind on a shared NATS server.
    """
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield prefix
    await servers.delete_streams(nats_server_url, prefix.upper())


@pytest.fixture(scope="session")
async def database_url(admin_pg_url: str) -> AsyncIterator[str]:
    url = servers.create_database(admin_pg_url)
    await migrate(url)
    yield url
    servers.drop_database(admin_pg_url, url)


@pytest.fixture
async def fresh_database_url(admin_pg_url: str) -> AsyncIterator[str]:
    """A database of its own for a test that needs an empty log."""
    url = servers.create_database(admin_pg_url)
    await migrate(url)
    yield url
    servers.drop_database(admin_pg_url, url)


@pytest.fixture(scope="session")
def settings(database_url: str, nats_server_url: str, nats_prefix: str) -> Settings:
    return Settings(
        database_url=database_url,
        nats_url=nats_server_url,
        nats_prefix=nats_prefix,
        admin_user="admin",
        admin_password="admin-password",
        log_format="console",
        log_level="warning",
        # Generous: a loaded machine (or a long write transaction elsewhere on a shared server,
        # which holds back every log reader) must not turn read-your-writes into a stale answer.
        read_your_writes_timeout=30.0,
    )
