"""The administrative commands: ``migrate``, ``events``, ``users`` and ``projections``.

Each brings the schema up to date first (migrations are idempotent and serialised by an
advisory lock), so they also work on a fresh embedded database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, BinaryIO

import psycopg
from psycopg_pool import AsyncConnectionPool

from events.store import Position
from kernel.db import open_pool
from kernel.errors import DomainError
from kernel.settings import Settings
from postlog.export import ExportFilter, export_events, parse_until, resolve_since, tail_events
from postlog.migrate import migrate

PROGRESS_EVERY_SECONDS = 2.0
QUARANTINE_LIST_LIMIT = 1000


async def run(args: argparse.Namespace, settings: Settings) -> int:
    assert settings.database_url
    applied = await migrate(settings.database_url)
    if args.command == "migrate":
        print(f"applied {len(applied)} migration(s){': ' if applied else ''}{', '.join(applied)}")
        return 0
    try:
        if args.command == "events":
            if args.action == "export":
                return await _export(args, settings.database_url, _master_key(settings))
            return await _tail(args, settings.database_url, _master_key(settings))
        if args.command == "users":
            return await _create_api_user(args, settings)
        return await _projections(args, settings)
    except DomainError as exc:
        print(f"postlog: {exc.message}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[BinaryIO]:
    if path is None or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as handle:
        yield handle


class _ProgressReport:
    """Counts on stderr every few seconds, so a long export shows it is alive."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()

    def __call__(self, written: int, position: Position) -> None:
        now = time.monotonic()
        if now - self.last >= PROGRESS_EVERY_SECONDS:
            self.last = now
            print(f"exported {written} events, at position {position}", file=sys.stderr,
                  flush=True)


def _master_key(settings: Settings) -> bytes | None:
    """The key unwrapping subscribers' data keys, so exports can open personal data."""
    from events.crypto import master_key_from

    return master_key_from(settings.master_key)


async def _export(args: argparse.Namespace, database_url: str, master_key: bytes | None) -> int:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        selection = ExportFilter(
            stream=args.stream,
            since=await resolve_since(conn, args.since),
            until=parse_until(args.until) if args.until else None,
        )
        progress = _ProgressReport()
        with _output(args.output) as out:
            written = await export_events(conn, out, selection, progress=progress,
                                          master_key=master_key)
    if args.output or time.monotonic() - progress.started >= PROGRESS_EVERY_SECONDS:
        target = f" to {args.output}" if args.output else ""
        print(f"exported {written} events{target}", file=sys.stderr)
    return 0


async def _tail(args: argparse.Namespace, database_url: str, master_key: bytes | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        # BrokenPipeError: the reader went away (``| head``), a normal end.
        with contextlib.suppress(BrokenPipeError):
            await tail_events(conn, sys.stdout.buffer, stream=args.stream, last=args.last,
                              stop=stop, master_key=master_key)
    return 0


@contextlib.asynccontextmanager
async def _pool(settings: Settings) -> AsyncIterator[AsyncConnectionPool[Any]]:
    pool = await open_pool(settings.model_copy(update={"db_pool_min": 1}), name="cli", max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


async def _create_api_user(args: argparse.Namespace, settings: Settings) -> int:
    from services.command_api.users.handlers import create_api_user

    async with _pool(settings) as pool:
        token = await create_api_user(pool, args.name, actor="cli")
    print(f"created API user {args.name!r}; its token is shown only this once."
          f" Use it as 'Authorization: token {args.name}:<token>'.", file=sys.stderr)
    print(token, flush=True)
    return 0


async def _projections(args: argparse.Namespace, settings: Settings) -> int:
    from projections.quarantine import quarantine_counts
    from projections.registry import all_projections, projection_by_name

    if args.action == "status":
        from projections.status import format_status_table, projection_status

        async with _pool(settings) as pool:
            rows = await projection_status(pool, all_projections())
        print(format_status_table(rows))
        if any(row.quarantined for row in rows):
            print("\nSome projections quarantined events they could not apply: list them with"
                  " `postlog projections quarantine`, fix the cause, then `postlog projections"
                  " rebuild NAME` (docs/projections.md).", file=sys.stderr)
        return 0
    try:
        projection = projection_by_name(args.name, settings) if args.name else None
    except KeyError as exc:
        print(f"postlog: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.action == "quarantine":
        from projections.quarantine import format_quarantine_table, quarantined_events

        names = [projection.name] if projection else [p.name for p in all_projections()]
        async with _pool(settings) as pool, pool.connection() as conn:
            listed = await quarantined_events(conn, names, limit=QUARANTINE_LIST_LIMIT)
        print(format_quarantine_table(listed))
        if len(listed) == QUARANTINE_LIST_LIMIT:
            print(f"(the first {QUARANTINE_LIST_LIMIT} shown)", file=sys.stderr)
        return 0
    from projections.rebuild import rebuild

    assert projection is not None
    async with _pool(settings) as pool:
        await rebuild(settings, pool, projection)
        async with pool.connection() as conn:
            left = (await quarantine_counts(conn, [projection.name])).get(projection.name, 0)
    print(f"projection {args.name} rebuilt")
    if left:
        print(f"postlog: {left} event(s) could not be applied and are quarantined; see"
              f" `postlog projections quarantine {args.name}`", file=sys.stderr)
    return 0
