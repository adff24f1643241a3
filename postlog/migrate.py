"""Applies the numbered SQL files in ``postlog/migrations`` once each, in order."""

from __future__ import annotations

from importlib import resources

import psycopg
import structlog

log = structlog.get_logger(__name__)

_LOCK_ID = 0x706F73746C6F67  # "postlog": serialises concurrent migrators


def migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("postlog") / "migrations"
    found = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql"):
            found.append((int(name.split("_", 1)[0]), name, entry.read_text()))
    return sorted(found)


async def migrate(database_url: str) -> list[str]:
    """Bring the database schema up to date; returns the names of the files applied."""
    applied: list[str] = []
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            await conn.execute("CREATE SCHEMA IF NOT EXISTS eventlog")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS eventlog.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cur = await conn.execute("SELECT version FROM eventlog.schema_migrations")
            done = {row[0] for row in await cur.fetchall()}
            for version, name, sql in migration_files():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO eventlog.schema_migrations (version, name) VALUES (%s, %s)",
                        (version, name),
                    )
                log.info("migration_applied", migration=name)
                applied.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied
