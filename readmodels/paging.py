"""Paginated listings the way listmonk serves them: its name search, one page of rows with the
total, and the ``results`` envelope. (Its paginator and order parameters are read from the URL
by ``services.http.params.page_of`` / ``order_of``.)
"""

from __future__ import annotations

import re
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

_SPACES = re.compile(r"\s+")


def envelope(results: list[dict[str, Any]], total: int, per_page: int, page: int,
             query: str = "", search: str = "") -> dict[str, Any]:
    """listmonk's page of results (the value of ``data``)."""
    return {"results": results, "search": search, "query": query, "total": total,
            "per_page": per_page, "page": page}


def text_search(expression: sql.Composable, search: str) -> tuple[sql.Composable, list[Any]]:
    """listmonk's search of ``expression``: every word matches (full text) or it contains the
    text.

    listmonk hands ``%word&word%`` to both ``to_tsquery`` and ``ILIKE``; ``plainto_tsquery``
    gives the same AND of words without failing on operator characters.
    """
    pattern = "%" + _SPACES.sub("&", search) + "%"
    return (sql.SQL("(to_tsvector({e}) @@ plainto_tsquery(%s) OR {e} ILIKE %s)").format(
        e=expression), [search, pattern])


def all_of(conditions: list[sql.Composable]) -> sql.Composable:
    """The conditions joined with AND (``TRUE`` when there are none)."""
    if not conditions:
        return sql.SQL("TRUE")
    return sql.SQL(" AND ").join(conditions)


async def fetch_page(
    pool: AsyncConnectionPool[Any], *, columns: sql.Composable, table: sql.Identifier,
    alias: str, where: sql.Composable, params: list[Any], order_by: str, descending: bool,
    offset: int, limit: int | None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of ``table`` rows (named ``alias`` in ``columns`` and ``where``) ordered by
    ``order_by`` then id, and the number of rows matching ``where``."""
    source = sql.SQL("{} {}").format(table, sql.Identifier(alias))
    direction = sql.SQL("DESC" if descending else "ASC")
    query = sql.SQL(
        "SELECT {cols}, count(*) OVER () AS total FROM {source} WHERE {where}"
        " ORDER BY {order} {dir}, {tie} {dir} OFFSET %s LIMIT %s"
    ).format(cols=columns, source=source, where=where,
             order=sql.Identifier(alias, order_by), tie=sql.Identifier(alias, "id"),
             dir=direction)
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query, [*params, offset, limit])
        rows = await cur.fetchall()
        if rows:
            return rows, int(rows[0]["total"])
        count = await conn.cursor().execute(
            sql.SQL("SELECT count(*) FROM {} WHERE {}").format(source, where), params)
        found = await count.fetchone()
    return rows, int(found[0]) if found else 0
