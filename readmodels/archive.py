"""Reads behind the public campaign archive: the archived campaigns (a page of them, one by uuid
or slug) and a campaign with a chosen template for ``POST /api/campaigns/:id/preview/archive``.

A campaign is in the archive, as in listmonk's ``get-archived-campaigns``, when its archive
flag is on, it is a ``regular`` campaign and it has been sent (``running``, ``paused`` or
``finished``); newest first. Each row carries the body of its archive template (listmonk's
rule: the campaign's ``archive_template_id``, else the default template, else nothing).
Everything comes from ``readmodel.campaigns`` and ``readmodel.templates``: no read model of
its own.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from readmodels.public import is_uuid

ARCHIVED_STATUSES = ("running", "paused", "finished")

_COLUMNS = (
    "c.id, c.uuid::text AS uuid, c.name, c.subject, c.from_email, c.body, c.altbody,"
    " c.content_type, c.tags, c.type, c.status, c.created_at, c.updated_at, c.send_at,"
    " c.archive_slug, c.archive_meta")
_ARCHIVE_TEMPLATE = (
    "COALESCE(t.body, (SELECT d.body FROM readmodel.templates d WHERE d.is_default"
    " ORDER BY d.id LIMIT 1), '') AS template_body")
_ARCHIVED = (
    "c.archive AND c.type = 'regular' AND c.status = ANY(%(statuses)s::text[])")

_PAGE = sql.SQL(
    "SELECT count(*) OVER () AS total, " + _COLUMNS + ", " + _ARCHIVE_TEMPLATE +
    " FROM readmodel.campaigns c LEFT JOIN readmodel.templates t ON t.id = c.archive_template_id"
    " WHERE " + _ARCHIVED +
    " ORDER BY c.created_at DESC, c.id DESC OFFSET %(offset)s LIMIT %(limit)s")

_ONE = (
    "SELECT " + _COLUMNS + ", " + _ARCHIVE_TEMPLATE +
    " FROM readmodel.campaigns c LEFT JOIN readmodel.templates t ON t.id = c.archive_template_id"
    " WHERE " + _ARCHIVED + " AND {}")
_BY_UUID = sql.SQL(_ONE.format("c.uuid = %(key)s::uuid"))
_BY_SLUG = sql.SQL(_ONE.format("c.archive_slug = %(key)s ORDER BY c.id LIMIT 1"))

_PREVIEW = sql.SQL(
    "SELECT " + _COLUMNS + ", COALESCE(t.body, '') AS template_body"
    " FROM readmodel.campaigns c LEFT JOIN readmodel.templates t"
    " ON t.id = (CASE WHEN %(template_id)s::bigint = 0 THEN c.template_id"
    " ELSE %(template_id)s::bigint END)"
    " WHERE c.id = %(id)s")


async def archived_campaigns(
    pool: AsyncConnectionPool[Any], offset: int, limit: int | None
) -> tuple[list[dict[str, Any]], int]:
    """One page of the archive (newest first) and how many campaigns it holds; a page past the
    end is empty with a total of 0, as listmonk counts on the page's rows."""
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(_PAGE, {
            "statuses": list(ARCHIVED_STATUSES), "offset": offset, "limit": limit})
        rows = [dict(row) for row in await cur.fetchall()]
    return rows, int(rows[0]["total"]) if rows else 0


async def archived_campaign(
    pool: AsyncConnectionPool[Any], uuid_or_slug: str
) -> dict[str, Any] | None:
    """The archived campaign named by its uuid (any text that is a uuid) or its archive slug;
    None when there is none (or it is not in the archive)."""
    query = _BY_UUID if is_uuid(uuid_or_slug) else _BY_SLUG
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query, {
            "statuses": list(ARCHIVED_STATUSES), "key": uuid_or_slug})
        row = await cur.fetchone()
    return dict(row) if row is not None else None


async def campaign_for_archive_preview(
    pool: AsyncConnectionPool[Any], campaign_id: int, template_id: int
) -> dict[str, Any] | None:
    """Any campaign (archived or not) with the body of template ``template_id`` (0: the
    campaign's own template), as listmonk's preview query; None for an unknown campaign."""
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(
            _PREVIEW, {"id": campaign_id, "template_id": template_id})
        row = await cur.fetchone()
    return dict(row) if row is not None else None
