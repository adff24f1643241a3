"""``GET /api/bounces`` and ``GET /api/bounces/:id`` (listmonk's ``cmd/bounce.go``).

``GET /api/bounces`` takes listmonk's ``campaign_id``, ``source``, ``order_by`` (``email``,
``campaign_name``, ``source``, ``created_at``, ``type``; default ``created_at``), ``order``
(default ``desc``), ``page`` and ``per_page`` (``all`` for every row). No match answers the
empty page listmonk gives (``total``, ``page`` and ``per_page`` 0). An unknown bounce id is
listmonk's 400 ``Bounce not found``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from readmodels.bounces import DEFAULT_ORDER, ORDER_FIELDS, BounceQuery, fetch_bounce, query_bounces
from readmodels.paging import envelope
from services.auth.guard import require_auth
from services.http.errors import APIError
from services.http.params import go_atoi, order_of, page_of, path_id
from services.runtime import Runtime

BOUNCE_NOT_FOUND = "Bounce not found"


@get("/api/bounces", guards=[require_auth], operation_id="getBounces")
async def get_bounces(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                      ) -> dict[str, Any]:
    params = request.query_params
    page, per_page, offset, limit = page_of(params)
    order_by, descending = order_of(params, tuple(ORDER_FIELDS), DEFAULT_ORDER)
    results, total = await query_bounces(runtime.read_pool, BounceQuery(
        campaign_id=go_atoi(params.get("campaign_id")) or 0,
        source=str(params.get("source") or ""), order_by=order_by, descending=descending,
        offset=offset, limit=limit))
    if not results:
        return {"data": envelope([], 0, 0, 0)}
    return {"data": envelope(results, total, per_page, page)}


@get("/api/bounces/{bounce_id:str}", guards=[require_auth], operation_id="getBounceById")
async def get_bounce(bounce_id: FromPath[str], runtime: NamedDependency[Runtime]
                     ) -> dict[str, Any]:
    found = await fetch_bounce(runtime.read_pool, path_id(bounce_id))
    if found is None:
        raise APIError(400, BOUNCE_NOT_FOUND)
    return {"data": found}
