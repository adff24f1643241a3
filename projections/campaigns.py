"""The ``campaigns`` read model: listmonk's ``campaigns`` and ``campaign_lists`` tables.

``campaign_lists`` keeps each list's id and name as the campaign last saw them, so a campaign
still names its lists after they are deleted. ``views``, ``clicks`` and ``bounces`` are counters
on the campaign row (0 until tracking records events), so reads never count over big tables.
``to_send`` and ``max_subscriber_id`` come from the launch events; ``sent`` counts the
deliveries the sender recorded (``delivery.progress``), which also move ``updated_at`` as
listmonk's sending does (``running/stats`` derives ``net_rate`` from it).

``views`` and ``clicks`` add up the ``count`` of ``tracking.campaign_viewed`` and
``tracking.link_clicked`` (every hit, like listmonk's counts over ``campaign_views`` and
``link_clicks``); ``bounces`` counts the campaign's live bounces: +1 per
``subscriber.bounce_recorded`` naming it, and when a subscriber's bounces go
(``subscriber.bounces_deleted``, ``subscriber.deleted``) minus that subscriber's bounces of the
campaign recorded before, which ``prepare`` folds from the subscriber's own stream in the log
(deterministic, so a rebuild gives the same numbers). docs/tracking.md.

Like listmonk, deleting a template moves the campaigns that used it to the default template
named in ``template.deleted`` (and clears it as their archive template).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from events.bounces import BounceRecorded
from events.campaigns import (
    CampaignArchiveChanged,
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
from events.deliveries import DeliveryProgress
from events.store import RecordedEvent
from events.templates import TemplateDeleted
from events.tracking import CampaignViewed, LinkClicked
from projections.base import Statement, Tables

CAMPAIGNS = "campaigns"
CAMPAIGN_LISTS = "campaign_lists"

_CONTENT_COLUMNS = (
    "name", "subject", "from_email", "body", "body_source", "altbody", "content_type",
    "send_at", "headers", "attribs", "tags", "messenger", "template_id", "archive",
    "archive_slug", "archive_template_id", "archive_meta",
)
_BOUNCE_REMOVALS = ("subscriber.bounces_deleted", "subscriber.deleted")
BouncesBefore = dict[str, dict[int, int]]
"""event id of a removal -> {campaign id: the subscriber's bounces of it just before}"""
_STATUS: dict[type, str] = {CampaignPaused: "paused", CampaignCancelled: "cancelled",
           CampaignFinished: "finished", CampaignUnscheduled: "draft"}


class CampaignsProjection:
    """Campaigns by id: what ``GET /api/campaigns`` and the scheduler read."""

    name = "campaigns"
    categories: tuple[str, ...] = ("campaign", "template", "delivery", "tracking",
                                   "subscriber")
    tables: tuple[str, ...] = (CAMPAIGNS, CAMPAIGN_LISTS)
    # Applied even on a stream frozen by the quarantine (projections.base.QuarantineAware).
    applied_on_frozen_streams = frozenset({"campaign.deleted"})

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        camps, lists = t[CAMPAIGNS], t[CAMPAIGN_LISTS]
        return [
            sql.SQL(
                "CREATE TABLE {} ("
                " id bigint PRIMARY KEY,"
                " uuid uuid NOT NULL UNIQUE,"
                " name text NOT NULL,"
                " subject text NOT NULL,"
                " from_email text NOT NULL,"
                " body text NOT NULL,"
                " body_source text NULL,"
                " altbody text NULL,"
                " content_type text NOT NULL DEFAULT 'richtext',"
                " send_at timestamptz NULL,"
                " headers jsonb NOT NULL DEFAULT '[]'::jsonb,"
                " attribs jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
                " status text NOT NULL DEFAULT 'draft',"
                " tags text[] NOT NULL DEFAULT '{{}}',"
                " type text NOT NULL DEFAULT 'regular',"
                " messenger text NOT NULL,"
                " template_id bigint NULL,"
                " to_send integer NOT NULL DEFAULT 0,"
                " sent integer NOT NULL DEFAULT 0,"
                " max_subscriber_id bigint NOT NULL DEFAULT 0,"
                " last_subscriber_id bigint NOT NULL DEFAULT 0,"
                " archive boolean NOT NULL DEFAULT false,"
                " archive_slug text NULL,"
                " archive_template_id bigint NULL,"
                " archive_meta jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
                " views integer NOT NULL DEFAULT 0,"
                " clicks integer NOT NULL DEFAULT 0,"
                " bounces integer NOT NULL DEFAULT 0,"
                " started_at timestamptz NULL,"
                " created_at timestamptz NOT NULL,"
                " updated_at timestamptz NOT NULL)"
            ).format(camps),
            sql.SQL("CREATE INDEX ON {} (status, send_at)").format(camps),
            sql.SQL("CREATE INDEX ON {} (created_at, id)").format(camps),
            sql.SQL("CREATE INDEX ON {} (archive_slug)").format(camps),
            sql.SQL("CREATE INDEX ON {} USING gin (tags)").format(camps),
            sql.SQL(
                "CREATE TABLE {} ("
                " campaign_id bigint NOT NULL,"
                " list_id bigint NOT NULL,"
                " list_name text NOT NULL,"
                " position integer NOT NULL,"
                " PRIMARY KEY (campaign_id, list_id))"
            ).format(lists),
            sql.SQL("CREATE INDEX ON {} (list_id)").format(lists),
        ]

    async def prepare(
        self, conn: psycopg.AsyncConnection[Any], events: Sequence[RecordedEvent]
    ) -> BouncesBefore:
        """For each removal of a subscriber's bounces in the batch: how many of its bounces
        each campaign had just before, folded from the subscriber's stream."""
        removals = [e for e in events if e.type in _BOUNCE_REMOVALS]
        if not removals:
            return {}
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(
            "SELECT stream_id, version, type, (data->>'campaign_id')::bigint"
            " FROM eventlog.events WHERE stream_id = ANY(%s)"
            " AND type = ANY(%s) ORDER BY stream_id, version",
            (list({e.stream_id for e in removals}),
             ["subscriber.bounce_recorded", *_BOUNCE_REMOVALS]))
        history: dict[str, list[tuple[int, str, int | None]]] = {}
        for stream_id, version, type_, campaign_id in await cur.fetchall():
            history.setdefault(stream_id, []).append((version, type_, campaign_id))
        out: BouncesBefore = {}
        for removal in removals:
            counts: dict[int, int] = {}
            for version, type_, campaign_id in history.get(removal.stream_id, []):
                if version >= removal.version:
                    break
                if type_ != "subscriber.bounce_recorded":
                    counts.clear()
                elif campaign_id is not None:
                    counts[campaign_id] = counts.get(campaign_id, 0) + 1
            out[str(removal.event_id)] = counts
        return out

    def apply_prepared(self, event: RecordedEvent, t: Tables, context: Any) -> list[Statement]:
        if event.type in _BOUNCE_REMOVALS:
            before: dict[int, int] = (context or {}).get(str(event.event_id), {})
            return [(sql.SQL("UPDATE {} SET bounces = GREATEST(bounces - %s, 0)"
                             " WHERE id = %s").format(t[CAMPAIGNS]), (n, campaign_id))
                    for campaign_id, n in sorted(before.items())]
        return self.apply(event, t)

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        camps, lists = t[CAMPAIGNS], t[CAMPAIGN_LISTS]
        if event.category == "delivery" and event.type != "delivery.progress":
            return []  # claims and completions: many, and nothing to show here
        if event.category == "subscriber" and event.type != "subscriber.bounce_recorded":
            return []  # removals of bounces need prepare(); the rest is not about campaigns
        e = event.decode()
        if isinstance(e, CampaignViewed | LinkClicked):
            column = sql.Identifier("views" if isinstance(e, CampaignViewed) else "clicks")
            return [(sql.SQL("UPDATE {} SET {col} = {col} + %s WHERE id = %s").format(
                camps, col=column), (e.count, e.campaign_id))]
        if isinstance(e, BounceRecorded):
            if e.campaign_id is None:
                return []
            return [(sql.SQL("UPDATE {} SET bounces = bounces + 1 WHERE id = %s").format(camps),
                     (e.campaign_id,))]
        if isinstance(e, CampaignCreated):
            columns = ("id", "uuid", "type", "status", *_CONTENT_COLUMNS, "created_at",
                       "updated_at")
            values = (e.campaign_id, e.uuid, e.campaign_type, "draft",
                      *_content_values(e.content), e.at, e.at)
            insert = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING").format(
                camps, sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(columns)))
            return [(insert, values), *_set_lists(lists, e.campaign_id, e.content)]
        if isinstance(e, CampaignUpdated):
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = %s").format(sql.Identifier(c)) for c in _CONTENT_COLUMNS)
            update = sql.SQL("UPDATE {} SET {}, updated_at = %s WHERE id = %s").format(
                camps, assignments)
            return [(update, (*_content_values(e.content), e.at, e.campaign_id)),
                    *_set_lists(lists, e.campaign_id, e.content)]
        if isinstance(e, CampaignScheduled):
            return [(sql.SQL("UPDATE {} SET status = 'scheduled', send_at = %s, updated_at = %s"
                             " WHERE id = %s").format(camps), (e.send_at, e.at, e.campaign_id))]
        if isinstance(e, CampaignStarted | CampaignResumed):
            return [(sql.SQL(
                "UPDATE {} SET status = 'running', to_send = %s, max_subscriber_id = %s,"
                " started_at = COALESCE(started_at, %s), updated_at = %s WHERE id = %s"
            ).format(camps), (e.to_send, e.max_subscriber_id, e.started_at, e.at,
                              e.campaign_id))]
        if isinstance(e, CampaignPaused | CampaignCancelled | CampaignFinished
                      | CampaignUnscheduled):
            return [(sql.SQL("UPDATE {} SET status = %s, updated_at = %s WHERE id = %s").format(
                camps), (_STATUS[type(e)], e.at, e.campaign_id))]
        if isinstance(e, CampaignArchiveChanged):
            return [(sql.SQL(
                "UPDATE {} SET archive = %s, archive_slug = %s, archive_template_id = %s,"
                " archive_meta = %s, updated_at = %s WHERE id = %s"
            ).format(camps), (e.archive, e.archive_slug, e.archive_template_id,
                              Jsonb(e.archive_meta), e.at, e.campaign_id))]
        if isinstance(e, CampaignDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE id = %s").format(camps), (e.campaign_id,)),
                    (sql.SQL("DELETE FROM {} WHERE campaign_id = %s").format(lists),
                     (e.campaign_id,))]
        if isinstance(e, DeliveryProgress):
            if not e.delivered:
                return []
            return [(sql.SQL("UPDATE {} SET sent = sent + %s, updated_at = GREATEST(updated_at,"
                             " %s) WHERE id = %s").format(camps),
                     (len(e.delivered), e.at, e.campaign_id))]
        if isinstance(e, TemplateDeleted):
            return [
                (sql.SQL("UPDATE {} SET template_id = %s WHERE template_id = %s").format(camps),
                 (e.default_template_id, e.template_id)),
                (sql.SQL("UPDATE {} SET archive_template_id = NULL"
                         " WHERE archive_template_id = %s").format(camps), (e.template_id,)),
            ]
        return []


def _content_values(c: CampaignContent) -> tuple[object, ...]:
    return (c.name, c.subject, c.from_email, c.body, c.body_source, c.altbody, c.content_type,
            c.send_at, Jsonb(c.headers), Jsonb(c.attribs), list(c.tags), c.messenger,
            c.template_id, c.archive, c.archive_slug, c.archive_template_id,
            Jsonb(c.archive_meta))


def _set_lists(table: sql.Identifier, campaign_id: int, c: CampaignContent) -> list[Statement]:
    """Replace the campaign's lists with the content's, in their order."""
    return [
        (sql.SQL("DELETE FROM {} WHERE campaign_id = %s").format(table), (campaign_id,)),
        (sql.SQL(
            "INSERT INTO {} (campaign_id, list_id, list_name, position)"
            " SELECT %s, l.id, l.name, l.ord FROM unnest(%s::bigint[], %s::text[])"
            " WITH ORDINALITY AS l(id, name, ord) ON CONFLICT DO NOTHING"
        ).format(table), (campaign_id, [x.id for x in c.lists], [x.name for x in c.lists])),
    ]
