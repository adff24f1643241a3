"""A campaign as the sender needs it, read from its own stream (the source of truth).

``fold_campaign`` goes through ``campaign-<id>``'s events: the content (``campaign.created`` /
``campaign.updated``), the audience frozen by the last start or resume (lists,
``max_subscriber_id``, template, messenger), the status, and the last retry round asked for.
The sender re-reads it every ``poll_seconds`` while it works on the campaign: campaign streams
are short, and reading the stream, not the read model, means a pause is never missed because a
projection is late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from events.campaigns import (
    CampaignCancelled,
    CampaignContent,
    CampaignCreated,
    CampaignDeleted,
    CampaignFinished,
    CampaignPaused,
    CampaignResumed,
    CampaignScheduled,
    CampaignStarted,
    CampaignUnscheduled,
    CampaignUpdated,
)
from events.deliveries import DeliveriesRetryRequested
from events.store import RecordedEvent, read_stream

_STATUS: dict[type, str] = {
    CampaignScheduled: "scheduled", CampaignUnscheduled: "draft", CampaignStarted: "running",
    CampaignResumed: "running", CampaignPaused: "paused", CampaignCancelled: "cancelled",
    CampaignFinished: "finished", CampaignDeleted: "deleted",
}


def campaign_stream(campaign_id: int) -> str:
    return f"campaign-{campaign_id}"


@dataclass(frozen=True)
class CampaignPlan:
    """What to send, to whom, and whether to send now.

    ``launch_version`` is the stream version of the last start or resume (0: never started);
    ``retry_round`` that of the last retry request (0: none).
    """

    campaign_id: int
    uuid: str
    campaign_type: str
    status: str
    content: CampaignContent
    created_at: datetime
    updated_at: datetime
    list_ids: tuple[int, ...] = ()
    to_send: int = 0
    max_subscriber_id: int = 0
    template_id: int | None = None
    messenger: str = "email"
    launch_version: int = 0
    retry_round: int = 0
    version: int = 0

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def sendable(self) -> bool:
        """Running, or finished (a retry round may still send its failed deliveries)."""
        return self.launch_version > 0 and self.status in ("running", "finished")


def fold_campaign(events: Iterable[RecordedEvent]) -> CampaignPlan | None:
    """The campaign's plan from its events in stream order; None if it was never created."""
    plan: CampaignPlan | None = None
    for recorded in events:
        event = recorded.decode()
        if isinstance(event, CampaignCreated):
            plan = CampaignPlan(campaign_id=event.campaign_id, uuid=event.uuid,
                                campaign_type=event.campaign_type, status="draft",
                                content=event.content, created_at=event.at, updated_at=event.at,
                                messenger=event.content.messenger, version=recorded.version)
            continue
        if plan is None:
            continue
        plan = replace(plan, version=recorded.version,
                       updated_at=getattr(event, "at", plan.updated_at))
        if isinstance(event, CampaignUpdated):
            plan = replace(plan, content=event.content)
        elif isinstance(event, DeliveriesRetryRequested):
            plan = replace(plan, retry_round=max(plan.retry_round, event.round))
        if isinstance(event, CampaignStarted | CampaignResumed):
            plan = replace(plan, list_ids=tuple(event.list_ids), to_send=event.to_send,
                           max_subscriber_id=event.max_subscriber_id,
                           template_id=event.template_id, messenger=event.messenger,
                           launch_version=recorded.version)
        status = _STATUS.get(type(event))
        if status is not None:
            plan = replace(plan, status=status)
    return plan


async def load_plan(conn: psycopg.AsyncConnection[Any], campaign_id: int) -> CampaignPlan | None:
    """The campaign's plan as its stream tells it now."""
    return fold_campaign(await read_stream(conn, campaign_stream(campaign_id)))


_TEMPLATE = """
SELECT body FROM readmodel.templates WHERE id = %s AND type = 'campaign'
UNION ALL
SELECT body FROM (SELECT body FROM readmodel.templates
                  WHERE is_default AND type = 'campaign' ORDER BY updated_at DESC LIMIT 1) d
LIMIT 1
"""


async def template_body(conn: psycopg.AsyncConnection[Any], template_id: int | None
                        ) -> str | None:
    """The body of the campaign's template, else of the default campaign template (as
    listmonk falls back when a template was deleted); None when there is neither."""
    cur = await conn.cursor(row_factory=tuple_row).execute(_TEMPLATE, (template_id or 0,))
    row = await cur.fetchone()
    return str(row[0]) if row is not None else None


async def list_optins(conn: psycopg.AsyncConnection[Any], list_ids: Iterable[int]
                      ) -> dict[int, str]:
    """``list id -> optin`` (single|double) of the campaign's lists that still exist."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT id, optin FROM readmodel.lists WHERE id = ANY(%s)", (list(list_ids),))
    return {int(row[0]): str(row[1]) for row in await cur.fetchall()}
