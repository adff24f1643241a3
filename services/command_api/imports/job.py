"""The background import job: reads the CSV in batches and writes each batch in one transaction.

It runs as an asyncio task in the process that accepted the upload (the file is on that
process's disk); its state is in Postgres (``status.py``), so any process answers GET and
DELETE. File reading, validation and sealing run in worker threads so the process keeps
serving requests. A stop request (``DELETE``) is seen at the next batch's commit; the rows
written until then stay and the import ends ``finished``, as in listmonk.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from events.base import Event, EventMetadata
from events.imports import ImportFailed, ImportFinished, ImportStopped
from services.command_api.executor import NOTIFY_CHANNEL
from services.command_api.imports.params import ImportOptions
from services.command_api.imports.parser import CsvRows, ImportFileError, count_lines
from services.command_api.imports.status import finish, heartbeat, log_line, set_total
from services.command_api.imports.writer import BatchOutcome, ImportBatch, commit_batch

log = structlog.get_logger(__name__)

BATCH_ROWS = 2000
WRITERS = 2
HEARTBEAT_EVERY = 10.0
INTERRUPTED = "import interrupted: the server shut down"

# Running jobs: asyncio keeps only weak references to tasks.
_RUNNING: set[asyncio.Task[None]] = set()


class ImportLog:
    """Log lines of the import, stamped when logged, kept until the job records them."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def __call__(self, message: str) -> None:
        self._lines.append(log_line(message))

    def take(self) -> list[str]:
        lines, self._lines = self._lines, []
        return lines


@dataclass(frozen=True)
class ImportJob:
    """One accepted upload: the CSV to read (inside ``workdir``, removed at the end)."""

    import_id: uuid.UUID
    options: ImportOptions
    csv_path: str
    workdir: str
    metadata: EventMetadata
    master_key: bytes | None
    batch_rows: int = BATCH_ROWS
    writers: int = WRITERS
    on_append: Callable[[int], None] | None = None  # the process's metrics (events appended)
    accept_email: Callable[[str], bool] | None = None  # privacy.domain_* lists in force


def start(pool: AsyncConnectionPool[Any], job: ImportJob, import_log: ImportLog) -> None:
    """Run ``job`` in the background of this process."""
    task = asyncio.create_task(run(pool, job, import_log), name=f"import-{job.import_id}")
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)


async def stop_all() -> None:
    """Cancel this process's running imports (at shutdown); each ends ``failed``."""
    tasks = list(_RUNNING)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run(pool: AsyncConnectionPool[Any], job: ImportJob, import_log: ImportLog) -> None:
    """Import every row of the job's CSV, then record how it ended."""
    beating = asyncio.create_task(_beat(pool, job.import_id))
    counts = [0, 0]  # total, imported
    reader: CsvRows | None = None
    try:
        lines = await asyncio.to_thread(count_lines, job.csv_path)
        if lines == 0:
            raise ImportFileError("empty file")
        counts[0] = lines - 1
        async with pool.connection() as conn:
            await set_total(conn, job.import_id, counts[0])
        reader = await asyncio.to_thread(CsvRows, job.csv_path, job.options.delim, import_log,
                                         job.options.name, job.accept_email)
        stopped = await _import_rows(pool, job, reader, import_log, counts)
        if stopped:
            import_log("stop request received")
        import_log("imported finished")
        event_type = ImportStopped if stopped else ImportFinished
        await _end(pool, job, "finished", import_log, event_type(
            import_id=str(job.import_id), total=counts[0], imported=counts[1],
            at=datetime.now(UTC)))
        log.info("import_finished", import_id=str(job.import_id), stopped=stopped,
                 total=counts[0], imported=counts[1])
    except asyncio.CancelledError:
        await _fail(pool, job, import_log, INTERRUPTED, counts[1])
        raise
    except ImportFileError as exc:
        await _fail(pool, job, import_log, str(exc), counts[1])
    except Exception as exc:
        log.exception("import_failed", import_id=str(job.import_id))
        import_log(f"error importing: {exc}")
        await _fail(pool, job, import_log, str(exc), counts[1])
    finally:
        beating.cancel()
        if reader is not None:
            reader.close()
        shutil.rmtree(job.workdir, ignore_errors=True)


async def _import_rows(pool: AsyncConnectionPool[Any], job: ImportJob, reader: CsvRows,
                       import_log: ImportLog, counts: list[int]) -> bool:
    """Write batches until the file ends (False) or a stop is requested (True).

    Up to ``job.writers`` batches are in flight at once, each in its own transaction, so one
    batch's rows are prepared while the database stores another's. Batches sharing e-mails
    stay correct: the second waits on the first's e-mail index rows, then loads its events.
    """
    pending: set[asyncio.Task[BatchOutcome]] = set()
    stop = done = False
    try:
        while not (done or stop):
            rows, done = await asyncio.to_thread(reader.batch, job.batch_rows)
            batch = ImportBatch(rows, job.options, datetime.now(UTC))
            pending.add(asyncio.create_task(commit_batch(
                pool, job.import_id, batch, job.metadata, job.master_key, import_log.take())))
            while pending and (len(pending) >= job.writers or done):
                written, pending = await asyncio.wait(
                    pending, return_when=asyncio.FIRST_COMPLETED)
                for task in written:
                    stop = _count(task.result(), job, import_log, counts) or stop
        for task in pending:
            stop = _count(await task, job, import_log, counts) or stop
    except BaseException:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        raise
    return stop


def _count(outcome: BatchOutcome, job: ImportJob, import_log: ImportLog,
           counts: list[int]) -> bool:
    """Add a written batch to the progress; True if the import is asked to stop."""
    if job.on_append is not None and outcome.plan.appends:
        job.on_append(outcome.plan.event_count)
    if outcome.plan.imported:
        counts[1] += outcome.plan.imported
        import_log(f"imported {counts[1]}")
    return outcome.status != "importing"


async def _end(pool: AsyncConnectionPool[Any], job: ImportJob, status: str,
               import_log: ImportLog, event: Event) -> None:
    async with pool.connection() as conn:
        async with conn.transaction():
            await finish(conn, job.import_id, status, import_log.take(), event, job.metadata)
        await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")


async def _fail(pool: AsyncConnectionPool[Any], job: ImportJob, import_log: ImportLog,
                reason: str, imported: int) -> None:
    """Record the failure; best effort (the database may be what failed)."""
    try:
        await _end(pool, job, "failed", import_log, ImportFailed(
            import_id=str(job.import_id), reason=reason, imported=imported,
            at=datetime.now(UTC)))
    except Exception:
        log.exception("import_failure_not_recorded", import_id=str(job.import_id))


async def _beat(pool: AsyncConnectionPool[Any], import_id: uuid.UUID) -> None:
    """Tell other processes this import is alive (see ``status.STALE_AFTER``)."""
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY)
        with contextlib.suppress(Exception):
            async with pool.connection() as conn:
                await heartbeat(conn, import_id)
