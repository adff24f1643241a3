"""Reads behind the public pages: the form's lists, a subscriber by uuid, a data export.

Public pages identify a subscriber by its uuid (the links in e-mails carry it). The command side
reuses ``subscriber_by_uuid`` to turn that uuid into the subscriber's id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from readmodels.lists import LISTS, timestamp
from readmodels.subscriber_profile import export_tracking
from readmodels.subscribers import SUBSCRIBER_LISTS, SUBSCRIBERS

# A uuid in its canonical textual form (what listmonk's links carry), any case.
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PRIVATE_LIST_NAME = "Private list"


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


@dataclass(frozen=True)
class Subscription:
    """One of a subscriber's lists, as the public pages show it."""

    list_id: int
    list_uuid: str
    name: str
    list_type: str
    optin: str
    status: str  # the subscription's status: unconfirmed | confirmed | unsubscribed
    created_at: str


@dataclass(frozen=True)
class PublicSubscriber:
    """A subscriber found by uuid, with its subscriptions (ordered by list id)."""

    id: int
    uuid: str
    email: str
    name: str
    status: str
    subscriptions: tuple[Subscription, ...]


async def form_lists(pool: AsyncConnectionPool[Any]) -> list[dict[str, str]]:
    """The active public lists, by id, as ``{uuid, name, description}``."""
    query = sql.SQL(
        "SELECT uuid::text AS uuid, name, description FROM {}"
        " WHERE type = 'public' AND status = 'active' ORDER BY id").format(LISTS)
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query)
        return [dict(row) for row in await cur.fetchall()]


_SUBSCRIBER = sql.SQL(
    "SELECT id, uuid::text AS uuid, email, name, attribs, status, created_at, updated_at"
    " FROM {} WHERE uuid = %s").format(SUBSCRIBERS)
_SUBSCRIPTIONS = sql.SQL(
    "SELECT l.id, l.uuid::text AS uuid, l.name, l.type, l.optin, sl.status,"
    " sl.created_at FROM {} sl JOIN {} l ON l.id = sl.list_id"
    " WHERE sl.subscriber_id = %s ORDER BY l.id").format(SUBSCRIBER_LISTS, LISTS)


async def _subscriber_rows(
    pool: AsyncConnectionPool[Any], subscriber_uuid: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    if not is_uuid(subscriber_uuid):
        return None
    async with pool.connection() as conn, conn.transaction():
        # One snapshot, so the profile and its subscriptions agree.
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur = await conn.cursor(row_factory=dict_row).execute(_SUBSCRIBER, (subscriber_uuid,))
        row = await cur.fetchone()
        if row is None:
            return None
        cur = await conn.cursor(row_factory=dict_row).execute(_SUBSCRIPTIONS, (row["id"],))
        return row, list(await cur.fetchall())


async def subscriber_by_uuid(
    pool: AsyncConnectionPool[Any], subscriber_uuid: str
) -> PublicSubscriber | None:
    """The subscriber with this uuid, or None (also for a malformed uuid)."""
    found = await _subscriber_rows(pool, subscriber_uuid)
    if found is None:
        return None
    row, lists = found
    return PublicSubscriber(
        id=int(row["id"]), uuid=row["uuid"], email=row["email"], name=row["name"],
        status=row["status"],
        subscriptions=tuple(Subscription(
            list_id=int(s["id"]), list_uuid=s["uuid"], name=s["name"], list_type=s["type"],
            optin=s["optin"], status=s["status"], created_at=timestamp(s["created_at"]))
            for s in lists))


async def export_of(
    pool: AsyncConnectionPool[Any], subscriber_uuid: str
) -> dict[str, Any] | None:
    """Everything kept about a subscriber, shaped like listmonk's data export: ``profile`` (a
    one-item array), ``subscriptions`` (private lists' names hidden), ``campaign_views`` and
    ``link_clicks`` (from the tracking read model, as the admin export)."""
    found = await _subscriber_rows(pool, subscriber_uuid)
    if found is None:
        return None
    row, lists = found
    profile = {
        "id": row["id"], "uuid": row["uuid"], "email": row["email"], "name": row["name"],
        "attribs": row["attribs"] if row["attribs"] is not None else {},
        "status": row["status"], "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }
    subscriptions = [{
        "subscription_status": s["status"],
        "name": PRIVATE_LIST_NAME if s["type"] == "private" else s["name"],
        "type": s["type"],
        "created_at": timestamp(s["created_at"]),
    } for s in lists]
    views, clicks = await export_tracking(pool, int(row["id"]))
    return {"profile": [profile], "subscriptions": subscriptions, "campaign_views": views,
            "link_clicks": clicks}
