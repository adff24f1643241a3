"""The ``tracking`` read model: tracked links, views and clicks, and their counters.

Tables (schema ``readmodel``):

- ``links`` — listmonk's table (``id``, ``uuid``, ``url``, ``created_at``), from
  ``link.registered``; ``GET /link/...`` reads it.
- ``campaign_views`` / ``link_clicks`` — listmonk's tables, one row per recorded event (id:
  the event's global position), plus ``hits`` (the event's ``count``: repeats within a dedupe
  window are one event). The subscriber query sandbox may read them (``subscribers.id IN
  (SELECT subscriber_id FROM campaign_views WHERE campaign_id = 7)``), and a subscriber's
  export and activity read them by ``subscriber_id``.
- ``tracking_counts`` — per campaign and hour (UTC): ``views``, ``clicks`` (every hit) and
  ``unique_views``, ``unique_clicks`` (subscribers counted the first time they viewed or
  clicked the campaign). Analytics and the dashboard charts sum these rows.
- ``link_counts`` — per campaign, link and hour: ``clicks`` and ``unique_clicks``.
- ``tracking_firsts`` — which subscriber already viewed (``link_id`` 0), clicked (-1) or
  clicked a link (its id) in a campaign: what makes a hit "unique".

``tracking.pruned`` (``DELETE /api/maintenance/analytics/:type``) deletes the views or clicks
recorded before a date and takes them out of the counters (docs/maintenance.md).

Like listmonk's foreign keys: a deleted subscriber's views and clicks stay, without the
subscriber (``ON DELETE SET NULL``); a deleted campaign's views, clicks and counters go
(``ON DELETE CASCADE``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from psycopg import sql

from events.campaigns import CampaignDeleted
from events.maintenance import TrackingPruned
from events.store import RecordedEvent
from events.subscribers import SubscriberDeleted
from events.tracking import CampaignViewed, LinkClicked, LinkRegistered
from projections.base import Statement, Tables

LINKS = "links"
CAMPAIGN_VIEWS = "campaign_views"
LINK_CLICKS = "link_clicks"
TRACKING_COUNTS = "tracking_counts"
LINK_COUNTS = "link_counts"
TRACKING_FIRSTS = "tracking_firsts"

VIEWED = 0  # tracking_firsts.link_id of a campaign view
CLICKED = -1  # tracking_firsts.link_id of any click in the campaign

_TYPES = frozenset({"link.registered", "tracking.campaign_viewed", "tracking.link_clicked",
                    "subscriber.deleted", "campaign.deleted", "tracking.pruned"})


def hour_of(at: datetime) -> datetime:
    """The UTC hour a hit is counted in."""
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class TrackingProjection:
    """Links, views, clicks and their hourly counters."""

    name = "tracking"
    categories: tuple[str, ...] = ("link", "tracking", "subscriber", "campaign")
    tables: tuple[str, ...] = (LINKS, CAMPAIGN_VIEWS, LINK_CLICKS, TRACKING_COUNTS, LINK_COUNTS,
                               TRACKING_FIRSTS)
    # A deletion by id depends on nothing before it (projections.base.QuarantineAware).
    applied_on_frozen_streams = frozenset({"subscriber.deleted", "campaign.deleted"})

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        return [
            sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, uuid uuid NOT NULL UNIQUE,"
                    " url text NOT NULL, created_at timestamptz NOT NULL)").format(t[LINKS]),
            sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, campaign_id bigint NOT NULL,"
                    " subscriber_id bigint NULL, hits integer NOT NULL DEFAULT 1,"
                    " created_at timestamptz NOT NULL)").format(t[CAMPAIGN_VIEWS]),
            sql.SQL("CREATE INDEX ON {} (campaign_id)").format(t[CAMPAIGN_VIEWS]),
            sql.SQL("CREATE INDEX ON {} (subscriber_id)").format(t[CAMPAIGN_VIEWS]),
            sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, campaign_id bigint NOT NULL,"
                    " link_id bigint NOT NULL, subscriber_id bigint NULL,"
                    " hits integer NOT NULL DEFAULT 1, created_at timestamptz NOT NULL)"
                    ).format(t[LINK_CLICKS]),
            sql.SQL("CREATE INDEX ON {} (campaign_id)").format(t[LINK_CLICKS]),
            sql.SQL("CREATE INDEX ON {} (subscriber_id)").format(t[LINK_CLICKS]),
            sql.SQL("CREATE TABLE {} (campaign_id bigint NOT NULL, hour timestamptz NOT NULL,"
                    " views bigint NOT NULL DEFAULT 0, unique_views bigint NOT NULL DEFAULT 0,"
                    " clicks bigint NOT NULL DEFAULT 0, unique_clicks bigint NOT NULL DEFAULT 0,"
                    " PRIMARY KEY (campaign_id, hour))").format(t[TRACKING_COUNTS]),
            sql.SQL("CREATE INDEX ON {} (hour)").format(t[TRACKING_COUNTS]),
            sql.SQL("CREATE TABLE {} (campaign_id bigint NOT NULL, link_id bigint NOT NULL,"
                    " hour timestamptz NOT NULL, clicks bigint NOT NULL DEFAULT 0,"
                    " unique_clicks bigint NOT NULL DEFAULT 0,"
                    " PRIMARY KEY (campaign_id, hour, link_id))").format(t[LINK_COUNTS]),
            sql.SQL("CREATE TABLE {} (campaign_id bigint NOT NULL, link_id bigint NOT NULL,"
                    " subscriber_id bigint NOT NULL,"
                    " PRIMARY KEY (campaign_id, link_id, subscriber_id))"
                    ).format(t[TRACKING_FIRSTS]),
            sql.SQL("CREATE INDEX ON {} (subscriber_id)").format(t[TRACKING_FIRSTS]),
        ]

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        if event.type not in _TYPES:
            return []  # most subscriber and campaign events: not decoded
        e = event.decode()
        if isinstance(e, LinkRegistered):
            return [(sql.SQL("INSERT INTO {} (id, uuid, url, created_at) VALUES (%s, %s, %s, %s)"
                             " ON CONFLICT DO NOTHING").format(t[LINKS]),
                     (e.link_id, e.uuid, e.url, e.at))]
        if isinstance(e, CampaignViewed):
            return self._viewed(event.position.global_position, e, t)
        if isinstance(e, LinkClicked):
            return self._clicked(event.position.global_position, e, t)
        if isinstance(e, SubscriberDeleted):
            return [*(
                (sql.SQL("UPDATE {} SET subscriber_id = NULL WHERE subscriber_id = %s").format(
                    t[name]), (e.subscriber_id,)) for name in (CAMPAIGN_VIEWS, LINK_CLICKS)),
                (sql.SQL("DELETE FROM {} WHERE subscriber_id = %s").format(t[TRACKING_FIRSTS]),
                 (e.subscriber_id,))]
        if isinstance(e, CampaignDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE campaign_id = %s").format(t[name]),
                     (e.campaign_id,))
                    for name in (CAMPAIGN_VIEWS, LINK_CLICKS, TRACKING_COUNTS, LINK_COUNTS,
                                 TRACKING_FIRSTS)]
        if isinstance(e, TrackingPruned):
            return _pruned(e, t)
        return []

    def _viewed(self, gp: int, e: CampaignViewed, t: Tables) -> list[Statement]:
        hour = hour_of(e.at)
        row = (sql.SQL("INSERT INTO {} (id, campaign_id, subscriber_id, hits, created_at)"
                       " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                       ).format(t[CAMPAIGN_VIEWS]),
               (gp, e.campaign_id, e.subscriber_id, e.count, e.at))
        counter = (sql.SQL(
            "WITH first AS ({first}) INSERT INTO {counts} (campaign_id, hour, views, unique_views)"
            " VALUES (%(c)s, %(h)s, %(n)s, (SELECT count(*) FROM first))"
            " ON CONFLICT (campaign_id, hour) DO UPDATE SET"
            " views = {counts}.views + EXCLUDED.views,"
            " unique_views = {counts}.unique_views + EXCLUDED.unique_views"
        ).format(first=_first(t), counts=t[TRACKING_COUNTS]),
            {"c": e.campaign_id, "h": hour, "n": e.count, "l": VIEWED, "s": e.subscriber_id})
        return [row, counter]

    def _clicked(self, gp: int, e: LinkClicked, t: Tables) -> list[Statement]:
        hour = hour_of(e.at)
        params = {"c": e.campaign_id, "h": hour, "n": e.count, "s": e.subscriber_id,
                  "link": e.link_id}
        row = (sql.SQL("INSERT INTO {} (id, campaign_id, link_id, subscriber_id, hits,"
                       " created_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                       ).format(t[LINK_CLICKS]),
               (gp, e.campaign_id, e.link_id, e.subscriber_id, e.count, e.at))
        campaign = (sql.SQL(
            "WITH first AS ({first}) INSERT INTO {counts} (campaign_id, hour, clicks,"
            " unique_clicks) VALUES (%(c)s, %(h)s, %(n)s, (SELECT count(*) FROM first))"
            " ON CONFLICT (campaign_id, hour) DO UPDATE SET"
            " clicks = {counts}.clicks + EXCLUDED.clicks,"
            " unique_clicks = {counts}.unique_clicks + EXCLUDED.unique_clicks"
        ).format(first=_first(t), counts=t[TRACKING_COUNTS]), {**params, "l": CLICKED})
        link = (sql.SQL(
            "WITH first AS ({first}) INSERT INTO {counts} (campaign_id, link_id, hour, clicks,"
            " unique_clicks) VALUES (%(c)s, %(link)s, %(h)s, %(n)s,"
            " (SELECT count(*) FROM first))"
            " ON CONFLICT (campaign_id, hour, link_id) DO UPDATE SET"
            " clicks = {counts}.clicks + EXCLUDED.clicks,"
            " unique_clicks = {counts}.unique_clicks + EXCLUDED.unique_clicks"
        ).format(first=_first(t), counts=t[LINK_COUNTS]), {**params, "l": e.link_id})
        return [row, campaign, link]


def _first(t: Tables) -> sql.Composable:
    """Marks subscriber ``%(s)s`` as having hit ``(%(c)s, %(l)s)``; returns a row only the
    first time (never for an anonymous hit)."""
    return sql.SQL(
        "INSERT INTO {} (campaign_id, link_id, subscriber_id)"
        " SELECT %(c)s, %(l)s, %(s)s WHERE %(s)s::bigint IS NOT NULL"
        " ON CONFLICT DO NOTHING RETURNING 1").format(t[TRACKING_FIRSTS])


def _pruned(e: TrackingPruned, t: Tables) -> list[Statement]:
    """Delete the views or clicks recorded before ``e.before``, as listmonk deletes its rows,
    and keep the counters equal to what the remaining rows say: hours that ended by then are
    zeroed, the hour the date falls in is summed again from its remaining rows (its unique
    count capped by the subscribers left in it), and a subscriber with no row left in a
    campaign (or link) is no longer "seen" there, so their next hit counts as unique again."""
    before = e.before if e.before.tzinfo is not None else e.before.replace(tzinfo=UTC)
    boundary = hour_of(before)
    p = {"before": before, "ended": boundary, "boundary": boundary,
         "next": boundary + timedelta(hours=1)}
    counts, links, firsts = t[TRACKING_COUNTS], t[LINK_COUNTS], t[TRACKING_FIRSTS]
    if e.kind == "views":
        rows, hits, uniques, seen = t[CAMPAIGN_VIEWS], "views", "unique_views", VIEWED
    else:
        rows, hits, uniques, seen = t[LINK_CLICKS], "clicks", "unique_clicks", CLICKED
    col, ucol = sql.Identifier(hits), sql.Identifier(uniques)
    out: list[Statement] = [
        (sql.SQL("DELETE FROM {} WHERE created_at < %(before)s").format(rows), p),
        # hours that ended before the date: nothing of them is left
        (sql.SQL("UPDATE {} SET {col} = 0, {ucol} = 0 WHERE hour < %(ended)s"
                 " AND ({col} <> 0 OR {ucol} <> 0)").format(counts, col=col, ucol=ucol), p),
        # the hour the date falls in: what its remaining rows hold
        (sql.SQL(
            "UPDATE {counts} c SET {col} = COALESCE(r.hits, 0),"
            " {ucol} = LEAST(c.{ucol}, COALESCE(r.subscribers, 0))"
            " FROM (SELECT k.campaign_id, SUM(x.hits) AS hits,"
            " COUNT(DISTINCT x.subscriber_id) AS subscribers"
            " FROM {counts} k LEFT JOIN {rows} x ON x.campaign_id = k.campaign_id"
            " AND x.created_at >= %(boundary)s AND x.created_at < %(next)s"
            " WHERE k.hour = %(boundary)s GROUP BY k.campaign_id) r"
            " WHERE c.campaign_id = r.campaign_id AND c.hour = %(boundary)s"
            " AND %(before)s > %(boundary)s"
        ).format(counts=counts, rows=rows, col=col, ucol=ucol), p),
        (sql.SQL("DELETE FROM {} WHERE hour <= %(boundary)s AND views = 0 AND unique_views = 0"
                 " AND clicks = 0 AND unique_clicks = 0").format(counts), p),
        (sql.SQL("DELETE FROM {f} WHERE link_id = %(seen)s AND NOT EXISTS (SELECT 1 FROM {rows} x"
                 " WHERE x.campaign_id = {f}.campaign_id AND x.subscriber_id = {f}.subscriber_id)"
                 ).format(f=firsts, rows=rows), {**p, "seen": seen}),
    ]
    if e.kind == "clicks":
        out += [
            (sql.SQL("DELETE FROM {} WHERE hour < %(ended)s").format(links), p),
            (sql.SQL(
                "UPDATE {links} c SET clicks = COALESCE(r.hits, 0),"
                " unique_clicks = LEAST(c.unique_clicks, COALESCE(r.subscribers, 0))"
                " FROM (SELECT k.campaign_id, k.link_id, SUM(x.hits) AS hits,"
                " COUNT(DISTINCT x.subscriber_id) AS subscribers"
                " FROM {links} k LEFT JOIN {rows} x ON x.campaign_id = k.campaign_id"
                " AND x.link_id = k.link_id"
                " AND x.created_at >= %(boundary)s AND x.created_at < %(next)s"
                " WHERE k.hour = %(boundary)s GROUP BY k.campaign_id, k.link_id) r"
                " WHERE c.campaign_id = r.campaign_id AND c.link_id = r.link_id"
                " AND c.hour = %(boundary)s AND %(before)s > %(boundary)s"
            ).format(links=links, rows=rows), p),
            (sql.SQL("DELETE FROM {} WHERE hour = %(boundary)s AND clicks = 0"
                     " AND unique_clicks = 0").format(links), p),
            (sql.SQL("DELETE FROM {f} WHERE link_id > 0 AND NOT EXISTS (SELECT 1 FROM {rows} x"
                     " WHERE x.campaign_id = {f}.campaign_id AND x.link_id = {f}.link_id"
                     " AND x.subscriber_id = {f}.subscriber_id)").format(f=firsts, rows=rows),
             p),
        ]
    return out
