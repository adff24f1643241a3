"""``GET /api/subscribers/:id/deliveries``: what was sent to one subscriber.

Campaign deliveries and single messages (transactional, campaign tests, opt-in
confirmations) in one list, newest first (``readmodels/message_deliveries.py``), paged as
listmonk's paginator pages (``page``, ``per_page``, ``all``):
``{"data": {"results": [...], "total", "page", "per_page"}}``. listmonk keeps no such
history. A subscriber that does not exist (or was erased: its rows went with it) is a 404.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from psycopg.rows import tuple_row

from readmodels.message_deliveries import subscriber_history
from services.auth.guard import require_auth
from services.http.errors import APIError
from services.http.params import page_of, path_id
from services.runtime import Runtime

SUBSCRIBER_NOT_FOUND = "Subscriber not found"


@get("/api/subscribers/{subscriber_id:str}/deliveries", guards=[require_auth],
     operation_id="getSubscriberDeliveriesById")
async def get_subscriber_deliveries(
    request: Request[Any, Any, Any], subscriber_id: FromPath[str],
    runtime: NamedDependency[Runtime],
) -> dict[str, Any]:
    """A page of the subscriber's send history."""
    target = path_id(subscriber_id)
    page, per_page, offset, limit = page_of(request.query_params)
    async with runtime.read_pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT 1 FROM readmodel.subscribers WHERE id = %s", (target,))
        if await cur.fetchone() is None:
            raise APIError(404, SUBSCRIBER_NOT_FOUND)
    results, total = await subscriber_history(runtime.read_pool, target, offset=offset,
                                              limit=limit)
    return {"data": {"results": results, "total": total, "page": page, "per_page": per_page}}
