"""``GET /api/campaigns/:id/deliveries``: what the sender recorded for each recipient.

listmonk has no such endpoint (its users ask for it: #2616, #1198). ``status`` narrows the
records to ``sent``, ``failed`` or ``retrying`` (failed for now, tried again later); ``page``
and ``per_page`` (``all``) page them as listmonk's paginator does; records come in subscriber
id order.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from psycopg.rows import tuple_row

from readmodels.deliveries import STATUSES, DeliveryQuery, delivery_page
from services.auth.guard import require_auth
from services.http.errors import APIError
from services.http.params import page_of, path_id
from services.runtime import Runtime

CAMPAIGN_NOT_FOUND = "Campaign not found"
INVALID_STATUS = "Invalid `status`: one of sent, failed, retrying."


@get("/api/campaigns/{campaign_id:str}/deliveries", guards=[require_auth],
     operation_id="getCampaignDeliveries")
async def get_campaign_deliveries(
    request: Request[Any, Any, Any], campaign_id: FromPath[str],
    runtime: NamedDependency[Runtime],
) -> dict[str, Any]:
    """A page of the campaign's delivery records: ``{results, total, page, per_page}``."""
    target = path_id(campaign_id)
    status = str(request.query_params.get("status") or "").strip().lower() or None
    if status is not None and status not in STATUSES:
        raise APIError(400, INVALID_STATUS)
    page, per_page, offset, limit = page_of(request.query_params)
    async with runtime.read_pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT 1 FROM readmodel.campaigns WHERE id = %s", (target,))
        if await cur.fetchone() is None:
            raise APIError(404, CAMPAIGN_NOT_FOUND)
    results, total = await delivery_page(
        runtime.read_pool, DeliveryQuery(campaign_id=target, status=status, offset=offset,
                                         limit=limit))
    return {"data": {"results": results, "total": total, "page": page, "per_page": per_page}}
