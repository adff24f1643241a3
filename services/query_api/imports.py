"""``GET /api/import/subscribers`` (status) and ``GET /api/import/subscribers/logs``.

The import's state is command-side (``eventlog.imports``, see
``services/command_api/imports/status.py``); the query role reads it through the views
``readmodel.import_status`` and ``readmodel.import_log``, which expose nothing else.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from psycopg.rows import tuple_row

from services.auth.guard import require_auth
from services.runtime import Runtime


def _json(data: Any) -> Response[bytes]:
    return Response(content=msgspec.json.encode({"data": data}), status_code=200,
                    media_type="application/json")


@get("/api/import/subscribers", guards=[require_auth], operation_id="getImportSubscribers")
async def import_status(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """``{name, total, imported, status}`` of the running or last import."""
    async with runtime.read_pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT name, total, imported, status FROM readmodel.import_status")
        row = await cur.fetchone()
    name, total, imported, status = row if row is not None else ("", 0, 0, "none")
    return _json({"name": name, "total": int(total), "imported": int(imported),
                  "status": status})


@get("/api/import/subscribers/logs", guards=[require_auth],
     operation_id="getImportSubscriberLogs")
async def import_logs(runtime: NamedDependency[Runtime]) -> Response[bytes]:
    """The import's log as one text, a line per message (empty when none ran)."""
    async with runtime.read_pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT coalesce(string_agg(line || E'\\n', '' ORDER BY seq), '')"
            " FROM readmodel.import_log")
        row = await cur.fetchone()
    return _json(row[0] if row is not None else "")
