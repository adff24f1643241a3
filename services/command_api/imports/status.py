"""The state of the one import that may run at a time, in ``eventlog.imports`` (one row).

Every command API process sees the same state, so "one import at a time" holds across
processes. The job runs in the process that accepted the upload and proves it is alive with a
heartbeat; an import whose heartbeat is older than ``STALE_AFTER`` is *abandoned* (its process
died): it reads as ``failed`` and a new import may start. The lifecycle is also recorded as
``import.*`` events (stream ``import-<uuid>``) in the same transactions.

Statuses are listmonk's: ``none`` | ``importing`` | ``stopping`` | ``finished`` | ``failed``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from events.base import Event, EventMetadata
from events.imports import ImportFailed, ImportStarted
from events.store import ANY_VERSION, StreamAppend, append

STALE_AFTER = 60  # seconds without a heartbeat; the same interval as readmodel.import_status
ABANDONED = "import abandoned: the process running it stopped"
_BUSY = ("importing", "stopping")


@dataclass(frozen=True)
class ImportState:
    """What ``GET /api/import/subscribers`` shows, plus the running import's id."""

    import_id: uuid.UUID | None = None
    name: str = ""
    total: int = 0
    imported: int = 0
    status: str = "none"

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "total": self.total, "imported": self.imported,
                "status": self.status}


def stream_of(import_id: uuid.UUID) -> str:
    return f"import-{import_id}"


def log_line(message: str, at: datetime | None = None) -> str:
    """A log line as listmonk's logger writes it: local date and time with microseconds."""
    return f"{(at or datetime.now()):%Y/%m/%d %H:%M:%S.%f} {message}"


async def current(conn: psycopg.AsyncConnection[Any], *, lock: bool = False) -> ImportState:
    """The import's state; an abandoned one reads as ``failed``."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT import_id, name, total, imported, status,"
        " status = ANY(%s) AND heartbeat_at < now() - make_interval(secs => %s)"
        " FROM eventlog.imports WHERE slot = 1" + (" FOR UPDATE" if lock else ""),
        (list(_BUSY), STALE_AFTER))
    row = await cur.fetchone()
    assert row is not None, "migration 005 inserts the imports row"
    return ImportState(row[0], row[1], int(row[2]), int(row[3]),
                       "failed" if row[5] else row[4])


async def add_log(conn: psycopg.AsyncConnection[Any], import_id: uuid.UUID,
                  lines: list[str]) -> None:
    if lines:
        await conn.execute(
            "INSERT INTO eventlog.import_logs (import_id, line) SELECT %s, unnest(%s::text[])",
            (import_id, lines))


async def settle_abandoned(conn: psycopg.AsyncConnection[Any], metadata: EventMetadata) -> None:
    """Mark an abandoned import failed (log line and ``import.failed``); inside a transaction."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "UPDATE eventlog.imports SET status = 'failed', finished_at = now()"
        " WHERE slot = 1 AND status = ANY(%s)"
        " AND heartbeat_at < now() - make_interval(secs => %s) RETURNING import_id, imported",
        (list(_BUSY), STALE_AFTER))
    row = await cur.fetchone()
    if row is not None and row[0] is not None:
        await add_log(conn, row[0], [log_line(ABANDONED)])
        await append(conn, [StreamAppend(stream_of(row[0]), ANY_VERSION, [ImportFailed(
            import_id=str(row[0]), reason=ABANDONED, imported=int(row[1]),
            at=datetime.now(UTC))])], metadata)


async def claim(
    conn: psycopg.AsyncConnection[Any], started: ImportStarted, owner: str,
    metadata: EventMetadata, log: list[str],
) -> ImportState | None:
    """Make ``started`` the running import (None if another one runs); inside a transaction."""
    await settle_abandoned(conn, metadata)
    if (await current(conn, lock=True)).status in _BUSY:
        return None
    import_id = uuid.UUID(started.import_id)
    await conn.execute("DELETE FROM eventlog.import_logs")
    await conn.execute(
        "UPDATE eventlog.imports SET import_id = %s, name = %s, total = 0, imported = 0,"
        " status = 'importing', owner = %s, started_at = now(), heartbeat_at = now(),"
        " finished_at = NULL WHERE slot = 1", (import_id, started.name, owner))
    await add_log(conn, import_id, log)
    await append(conn, [StreamAppend(stream_of(import_id), 0, [started])], metadata)
    return ImportState(import_id, started.name, 0, 0, "importing")


async def stop_or_reset(
    conn: psycopg.AsyncConnection[Any], metadata: EventMetadata
) -> ImportState:
    """listmonk's DELETE: ask a running import to stop, or forget a finished (or failed) one
    and its log. An import already stopping is left to finish. Inside a transaction."""
    await settle_abandoned(conn, metadata)
    state = await current(conn, lock=True)
    if state.status == "importing":
        await conn.execute("UPDATE eventlog.imports SET status = 'stopping' WHERE slot = 1")
        return ImportState(state.import_id, state.name, state.total, state.imported,
                           "stopping")
    if state.status == "stopping":
        return state
    await conn.execute("DELETE FROM eventlog.import_logs")
    await conn.execute(
        "UPDATE eventlog.imports SET import_id = NULL, name = '', total = 0, imported = 0,"
        " status = 'none', owner = '', started_at = NULL, heartbeat_at = NULL,"
        " finished_at = NULL WHERE slot = 1")
    return ImportState()


async def set_total(conn: psycopg.AsyncConnection[Any], import_id: uuid.UUID,
                    total: int) -> None:
    await conn.execute("UPDATE eventlog.imports SET total = %s WHERE import_id = %s",
                       (total, import_id))


async def heartbeat(conn: psycopg.AsyncConnection[Any], import_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE eventlog.imports SET heartbeat_at = now() WHERE import_id = %s", (import_id,))


async def record_progress(
    conn: psycopg.AsyncConnection[Any], import_id: uuid.UUID, imported: int, log: list[str]
) -> str:
    """Count a batch's rows (in its transaction) and return the status: ``stopping`` when a
    stop was requested; ``none`` if the import was taken over meanwhile."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "UPDATE eventlog.imports SET imported = imported + %s, heartbeat_at = now()"
        " WHERE import_id = %s RETURNING status", (imported, import_id))
    row = await cur.fetchone()
    await add_log(conn, import_id, log)
    return str(row[0]) if row is not None else "none"


async def finish(
    conn: psycopg.AsyncConnection[Any], import_id: uuid.UUID, status: str, log: list[str],
    event: Event, metadata: EventMetadata,
) -> None:
    """End the import with ``status`` (finished | failed), its last log lines and event."""
    await conn.execute(
        "UPDATE eventlog.imports SET status = %s, finished_at = now(), heartbeat_at = now()"
        " WHERE import_id = %s", (status, import_id))
    await add_log(conn, import_id, log)
    await append(conn, [StreamAppend(stream_of(import_id), ANY_VERSION, [event])], metadata)
