"""Finds PostgreSQL and NATS for the tests: the machine's own, or embedded ones started here."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_NATS = "nats://127.0.0.1:4222"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def admin_postgres_url() -> Iterator[str]:
    """A superuser URL for creating test databases (TEST_POSTGRES_URL, local :5432, or embedded)."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if _reachable("127.0.0.1", 5432):
        yield DEFAULT_PG
        return
    from postlog.embedded import embedded_postgres

    with embedded_postgres(os.path.abspath(".postlog-test/pg")) as url:
        yield url


@contextmanager
def nats_url() -> Iterator[str]:
    url = os.environ.get("TEST_NATS_URL")
    if url:
        yield url
        return
    if _reachable("127.0.0.1", 4222):
        yield DEFAULT_NATS
        return
    from postlog.embedded import embedded_nats

    with embedded_nats(os.path.abspath(".postlog-test/nats")) as url:
        yield url


def create_database(admin_url: str, prefix: str = "postlog_test") -> str:
    """Create a fresh, uniquely named database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return str(psycopg.conninfo.make_conninfo(admin_url, dbname=name))


def drop_database(admin_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sub_prefix(session_prefix: str) -> str:
    """A unique NATS prefix under the session's (deleted with it at the end of the session)."""
    return f"{session_prefix}x{uuid.uuid4().hex[:6]}"


async def delete_streams(url: str, name_prefix: str) -> int:
    """Delete the JetStream streams whose names start with ``name_prefix``; returns how many."""
    import nats

    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=1)
    try:
        js = nc.jetstream()
        deleted = 0
        for info in await js.streams_info():
            if info.config.name and info.config.name.startswith(name_prefix):
                await js.delete_stream(info.config.name)
                deleted += 1
        return deleted
    finally:
        await nc.close()
