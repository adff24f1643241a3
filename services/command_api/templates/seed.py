"""The templates every installation starts with, recorded once as ordinary template events.

Like listmonk's install, a fresh log gets a default campaign template (the default), an
archive template and a sample transactional template. ``ensure_default_templates`` runs at
start-up wherever the command API runs; it is safe to run concurrently and repeatedly: it
serialises on an advisory lock, records nothing once any template event exists (so deleting
the samples later does not bring them back), and its events have fixed ids derived from one
key, so even a second writer slipping past the check could not record them twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.base import Event
from events.store import NO_STREAM, StreamAppend, derive_event_ids
from events.templates import TemplateType
from services.command_api.executor import CommandContext, Decision, execute
from services.command_api.sequences import next_id
from services.command_api.templates.commands import (
    TEMPLATE_ID_SEQUENCE,
    CreateTemplate,
    MakeDefault,
)
from services.command_api.templates.decider import stream_id as template_stream
from services.command_api.templates.decider import template_decider

log = structlog.get_logger(__name__)

SEED_KEY = "!seed:default-templates:v1"  # '!' cannot start a username: no client key clashes
_SEED_LOCK = 0x706F73746C6F6702  # advisory lock: one process at a time seeds the templates


@dataclass(frozen=True)
class SeedTemplate:
    name: str
    template_type: TemplateType
    subject: str
    file: str
    is_default: bool = False

    def body(self) -> str:
        return (resources.files(__package__) / "defaults" / self.file).read_text("utf-8")


SEEDS: tuple[SeedTemplate, ...] = (
    SeedTemplate("Default campaign template", "campaign", "", "campaign.html", is_default=True),
    SeedTemplate("Default archive template", "campaign", "", "archive.html"),
    SeedTemplate("Sample transactional template", "tx", "Welcome {{ .Subscriber.Name }}",
                 "tx.html"),
)


async def _templates_recorded(conn: psycopg.AsyncConnection[Any]) -> bool:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT EXISTS (SELECT 1 FROM eventlog.events WHERE category = 'template')")
    row = await cur.fetchone()
    return bool(row and row[0])


def seed_events(seed: SeedTemplate, template_id: int, at: datetime) -> list[Event]:
    """The events that create one seed template (and make it the default if it is one)."""
    create = CreateTemplate(template_id=template_id, name=seed.name,
                            template_type=seed.template_type, subject=seed.subject,
                            body=seed.body(), at=at)
    events = template_decider.decide(template_decider.initial, create)
    if seed.is_default:
        state = template_decider.fold(events)
        events += template_decider.decide(state, MakeDefault(template_id=template_id, at=at))
    return events


async def ensure_default_templates(pool: AsyncConnectionPool[Any]) -> bool:
    """Record the default templates unless the log already has templates; ``True`` if it
    recorded them now."""

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK,))
        if await _templates_recorded(conn):
            return Decision([])
        at = datetime.now(UTC)
        planned: list[tuple[str, list[Event]]] = []
        for seed in SEEDS:
            template_id = await next_id(conn, TEMPLATE_ID_SEQUENCE)
            planned.append((template_stream(template_id), seed_events(seed, template_id, at)))
        ids = derive_event_ids(SEED_KEY, sum(len(events) for _, events in planned))
        appends: list[StreamAppend] = []
        for stream, events in planned:
            appends.append(StreamAppend(stream, NO_STREAM, events, ids[:len(events)]))
            ids = ids[len(events):]
        return Decision(appends, {"seeded": [stream for stream, _ in planned]})

    outcome = await execute(pool, CommandContext(actor="system"), decide)
    seeded = outcome.position is not None
    if seeded:
        log.info("default_templates_recorded", streams=outcome.result.get("seeded"))
    return seeded
