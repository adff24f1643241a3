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
from functools import partial
from importlib import resources
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from events.base import Event
from events.templates import TemplateType
from services.command_api.executor import CommandContext, execute_handler
from services.command_api.templates.commands import CreateTemplate, MakeDefault
from services.command_api.templates.decider import template_decider
from services.command_api.templates.handlers import FirstTemplates, record_first_templates
from services.command_api.templates.template_log import TEMPLATE_LOG

log = structlog.get_logger(__name__)

SEED_KEY = "!seed:default-templates:v1"  # '!' cannot start a username: no client key clashes


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
    at = datetime.now(UTC)
    first = FirstTemplates([partial(seed_events, seed, at=at) for seed in SEEDS], SEED_KEY)
    outcome = await execute_handler(pool, CommandContext(actor="system"),
                                    partial(record_first_templates, first), ports=TEMPLATE_LOG)
    seeded = outcome.position is not None
    if seeded:
        log.info("default_templates_recorded", streams=outcome.result.get("seeded"))
    return seeded
