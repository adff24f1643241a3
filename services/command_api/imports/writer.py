"""Writes one batch of import rows in one transaction: the ``write_batch`` handler over the
``EventStore``, and ``commit_batch``, which runs it as the executor runs a command.

The handler uses the store's batch operations, so a batch costs a handful of statements
whatever its size (2,000 rows by default), as it did when this module held the SQL itself:

1. ``claim_new`` claims the e-mails not known yet in the unique e-mail index, each with an id
   from ``eventlog.subscriber_id_seq`` (one ``INSERT .. ON CONFLICT DO NOTHING``); the other
   e-mails belong to existing subscribers (``owners``, one ``SELECT``);
2. ``data_keys(create=True)`` stores the new subscribers' data keys (one ``INSERT``);
3. ``load_many`` loads the existing subscribers' streams (folded by the subscriber decider) and
   ``data_keys`` their keys;
4. the events are planned in a worker thread (sealing is CPU work, ``batch.plan_batch``) and
   staged.

``commit_batch`` appends what was staged with one statement (``events.store.append``) and records
the progress and log lines beside it, in the same transaction. It does not go through the
command executor: an import batch has no idempotency key and no answer to wait for, it counts
its rows in the import's status instead. A concurrent command on one of the batch's
subscribers makes the append fail on the stream version: the whole batch is rolled back and
written again from fresh state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from events.base import EventMetadata
from events.store import ConcurrencyError, append
from services.command_api.executor import NOTIFY_CHANNEL
from services.command_api.imports.batch import (
    BatchPlan,
    Existing,
    NewSubscriber,
    Target,
    plan_batch,
)
from services.command_api.imports.params import ImportOptions
from services.command_api.imports.parser import Row
from services.command_api.imports.status import record_progress
from services.command_api.store import EMAIL_INDEX, EventStore, PostgresEventStore
from services.command_api.subscribers.decider import stream_id, subscriber_decider
from services.command_api.subscribers.handlers import SUBSCRIBER_ID_SEQUENCE

ATTEMPTS = 5
_RETRYABLE = (ConcurrencyError, psycopg.errors.DeadlockDetected,
              psycopg.errors.SerializationFailure)


class RaceLost(Exception):
    """An e-mail was neither claimable nor held (a concurrent claim rolled back): retry."""


@dataclass(frozen=True)
class ImportBatch:
    """Rows of the file to import with the import's options, stamped ``at``."""

    rows: Sequence[Row]
    options: ImportOptions
    at: datetime


@dataclass(frozen=True)
class BatchOutcome:
    plan: BatchPlan
    status: str  # the import's status after the batch: ``stopping`` asks the job to stop


async def load_existing(store: EventStore, ids: Sequence[int]) -> dict[int, Existing]:
    """The folded state, version and key of each subscriber in ``ids``."""
    if not ids:
        return {}
    loaded = await store.load_many([stream_id(i) for i in ids], subscriber_decider)
    keys = await store.data_keys(ids)
    found: dict[int, Existing] = {}
    for sid in ids:
        state, version = loaded[stream_id(sid)]
        if version:
            found[sid] = Existing(sid, state, version, keys.get(sid))
    return found


async def resolve(store: EventStore, rows: Sequence[Row]) -> dict[str, Target]:
    """The subscriber each e-mail of ``rows`` is (new ones indexed and given keys)."""
    hashes = list(dict.fromkeys(row.email_hash for row in rows))
    new = await store.claim_new(EMAIL_INDEX, hashes, SUBSCRIBER_ID_SEQUENCE)
    rest = [h for h in hashes if h not in new]
    existing = await store.owners(EMAIL_INDEX, rest) if rest else {}
    if len(existing) != len(rest):
        raise RaceLost
    keys = await store.data_keys(new.values(), create=True)
    loaded = await load_existing(store, sorted(set(existing.values())))
    targets: dict[str, Target] = {h: NewSubscriber(sid, keys[sid]) for h, sid in new.items()}
    for h, sid in existing.items():
        targets[h] = loaded.get(sid) or Existing(sid, subscriber_decider.initial, 0, None)
    return targets


async def write_batch(batch: ImportBatch, store: EventStore) -> BatchPlan:
    """Stage the events of ``batch`` (see ``batch.py`` for listmonk's rules); the plan says
    how many rows were imported and which were skipped."""
    targets = await resolve(store, batch.rows)
    plan = await asyncio.to_thread(plan_batch, batch.rows, targets, batch.options, batch.at,
                                   lambda: str(uuid.uuid4()))
    store.append(*plan.appends)
    return plan


async def commit_batch(
    pool: AsyncConnectionPool[Any], import_id: uuid.UUID, batch: ImportBatch,
    metadata: EventMetadata, master_key: bytes | None, log: list[str],
) -> BatchOutcome:
    """Write ``batch`` and count its rows (with ``log``) in one transaction, retrying
    conflicts."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with pool.connection() as conn:
                async with conn.transaction():
                    store = PostgresEventStore(conn, master_key)
                    plan = await write_batch(batch, store)
                    if store.staged:
                        await append(conn, store.staged, metadata)
                    status = await record_progress(
                        conn, import_id, plan.imported, log + plan.skipped)
                if store.staged:
                    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
            return BatchOutcome(plan, status)
        except (*_RETRYABLE, RaceLost):
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")
