"""What template handlers read from the log beyond their own streams, and its PostgreSQL adapter.

Which template is the default is known to each template's stream, but finding the current
default needs the whole category: every change of default unsets the previous one, which
committed before it was read, so the committed ``template.default_set`` events form one chain in
log order and the last one names the default (the handler then checks it against its stream).
Seeding the install's templates needs to know whether the log holds any template at all. Both
happen inside the command's transaction, as does ``serialise``, which lets two commands that
must not interleave (the first choice of a default, the seeding) run one after the other.

``EventStore`` (``services/command_api/store.py``) has no such reads; until a generic one exists
this small port sits beside it, and ``with_template_log`` hands a handler both on the same
transaction. Tests use a fake over the in-memory store.
"""

from __future__ import annotations

from typing import Any, Protocol

import psycopg
from psycopg.rows import tuple_row

from services.command_api.store import Ports

# Names of what ``serialise`` orders.
FIRST_DEFAULT = "first default"  # choosing a default while there is none
SEEDING = "seeding"  # recording the install's templates
_LOCKS = {FIRST_DEFAULT: 0x706F73746C6F6703, SEEDING: 0x706F73746C6F6702}  # advisory lock keys


class TemplateLog(Protocol):
    """The template category of the log as the command's transaction sees it."""

    async def last_default(self) -> int | None:
        """The template the committed log made the default last (None: never one)."""
        ...

    async def any_recorded(self) -> bool:
        """Whether the log holds any template event."""
        ...

    async def serialise(self, name: str) -> None:
        """Wait until no other command holds ``name`` (``FIRST_DEFAULT``, ``SEEDING``), then
        hold it until this command ends."""
        ...




class PostgresTemplateLog:
    """``TemplateLog`` over the command's connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def last_default(self) -> int | None:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            "SELECT (data->>'template_id')::bigint FROM eventlog.events"
            " WHERE category = 'template' AND type = 'template.default_set'"
            " ORDER BY global_position DESC LIMIT 1")
        row = await cur.fetchone()
        return int(row[0]) if row else None

    async def any_recorded(self) -> bool:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            "SELECT EXISTS (SELECT 1 FROM eventlog.events WHERE category = 'template')")
        row = await cur.fetchone()
        return bool(row and row[0])

    async def serialise(self, name: str) -> None:
        await self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCKS[name],))


TEMPLATE_LOG: Ports = {"templates": lambda conn, master_key: PostgresTemplateLog(conn)}
"""The port ``templates`` the executor builds on the command's transaction for this area's
handlers (``execute_handler(..., ports=TEMPLATE_LOG)``)."""
