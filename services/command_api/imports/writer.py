"""Writes one batch of import rows in one transaction, with a handful of statements whatever
the batch size:

1. one ``INSERT .. ON CONFLICT DO NOTHING`` into the unique e-mail index claims the e-mails
   not known yet, each with an id from ``eventlog.subscriber_id_seq``; e-mails it did not
   insert belong to existing subscribers (one ``SELECT`` finds them);
2. one ``INSERT`` stores the new subscribers' data keys (``events.crypto.create_keys``);
3. one ``SELECT`` loads the existing subscribers' streams (folded by the subscriber decider)
   and one their keys;
4. the events are built in a worker thread (sealing is CPU work) and appended with one
   statement (``events.store.append``), the progress and log lines recorded beside them.

A concurrent command on one of the batch's subscribers makes the append fail on the stream
version: the whole batch is rolled back and written again from fresh state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.base import EventMetadata
from events.crypto import create_keys, load_keys
from events.store import ConcurrencyError, append
from services.command_api.decider import load_many
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
from services.command_api.subscribers.decider import stream_id, subscriber_decider

ATTEMPTS = 5
_RETRYABLE = (ConcurrencyError, psycopg.errors.DeadlockDetected,
              psycopg.errors.SerializationFailure)


class RaceLost(Exception):
    """An e-mail was neither insertable nor found (a concurrent claim rolled back): retry."""


@dataclass(frozen=True)
class BatchOutcome:
    plan: BatchPlan
    status: str  # the import's status after the batch: ``stopping`` asks the job to stop


async def claim_emails(
    conn: psycopg.AsyncConnection[Any], hashes: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """``(new, existing)``: e-mail hash -> subscriber id, new ones just indexed."""
    # Ids follow the file's order; rows are inserted in hash order, so two batches in flight
    # that share e-mails lock them in the same order (no deadlock).
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "WITH fresh AS (SELECT h, nextval('eventlog.subscriber_id_seq') AS id FROM"
        " (SELECT h FROM unnest(%b::text[]) WITH ORDINALITY AS t(h, ord) WHERE NOT EXISTS"
        " (SELECT 1 FROM eventlog.subscriber_emails e WHERE e.email_hash = h) ORDER BY ord) f)"
        " INSERT INTO eventlog.subscriber_emails (email_hash, subscriber_id)"
        " SELECT h, id FROM fresh ORDER BY h"
        " ON CONFLICT (email_hash) DO NOTHING RETURNING email_hash, subscriber_id",
        (hashes,))
    new = {h: int(sid) for h, sid in await cur.fetchall()}
    rest = [h for h in hashes if h not in new]
    existing: dict[str, int] = {}
    if rest:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT email_hash, subscriber_id FROM eventlog.subscriber_emails"
            " WHERE email_hash = ANY(%b)", (rest,))
        existing = {h: int(sid) for h, sid in await cur.fetchall()}
        if len(existing) != len(rest):
            raise RaceLost
    return new, existing


async def load_existing(
    conn: psycopg.AsyncConnection[Any], ids: Sequence[int], master_key: bytes | None
) -> dict[int, Existing]:
    """The folded state, version and key of each subscriber in ``ids``."""
    if not ids:
        return {}
    loaded = await load_many(conn, [stream_id(i) for i in ids], subscriber_decider)
    keys = await load_keys(conn, ids, master_key=master_key)
    found: dict[int, Existing] = {}
    for sid in ids:
        state, version = loaded[stream_id(sid)]
        if version:
            found[sid] = Existing(sid, state, version, keys.get(sid))
    return found


async def resolve(
    conn: psycopg.AsyncConnection[Any], rows: Sequence[Row], master_key: bytes | None
) -> dict[str, Target]:
    """The subscriber each e-mail of ``rows`` is (new ones indexed and given keys)."""
    hashes = list(dict.fromkeys(row.email_hash for row in rows))
    new, existing = await claim_emails(conn, hashes)
    keys = await create_keys(conn, new.values(), master_key=master_key)
    loaded = await load_existing(conn, sorted(set(existing.values())), master_key)
    targets: dict[str, Target] = {h: NewSubscriber(sid, keys[sid]) for h, sid in new.items()}
    for h, sid in existing.items():
        targets[h] = loaded.get(sid) or Existing(sid, subscriber_decider.initial, 0, None)
    return targets


async def write_batch(
    pool: AsyncConnectionPool[Any], import_id: uuid.UUID, rows: Sequence[Row],
    options: ImportOptions, metadata: EventMetadata, master_key: bytes | None,
    log: list[str], at: datetime,
) -> BatchOutcome:
    """Write ``rows`` and count them (with ``log``) in one transaction, retrying conflicts."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with pool.connection() as conn:
                async with conn.transaction():
                    targets = await resolve(conn, rows, master_key)
                    plan = await asyncio.to_thread(
                        plan_batch, rows, targets, options, at, lambda: str(uuid.uuid4()))
                    if plan.appends:
                        await append(conn, plan.appends, metadata)
                    status = await record_progress(
                        conn, import_id, plan.imported, log + plan.skipped)
                if plan.appends:
                    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")
            return BatchOutcome(plan, status)
        except (*_RETRYABLE, RaceLost):
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")
