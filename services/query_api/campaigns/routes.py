"""GET endpoints of campaigns: the list, one campaign and running stats (analytics:
``services/query_api/analytics``).

Parameters are read the way listmonk reads them (its paginator, Go's ``strconv`` rules).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from readmodels.campaigns import (
    DEFAULT_ORDER_FIELD,
    ORDER_FIELDS,
    CampaignQuery,
    fetch_campaign,
    query_campaigns,
    running_stats,
)
from readmodels.paging import envelope
from services.auth.guard import current_user, require_auth
from services.http.errors import APIError
from services.http.params import go_atoi, go_bool, order_of, page_of, path_id
from services.runtime import Runtime

CAMPAIGN_NOT_FOUND = "Campaign not found"


@get("/api/campaigns", guards=[require_auth], operation_id="getCampaigns")
async def get_campaigns(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """A page of campaigns: ``query`` searches name and subject, ``status`` and ``tag`` (or
    ``tags``) repeat, ``order_by`` name|status|created_at|updated_at, ``order`` asc|desc."""
    params = request.query_params
    search = str(params.get("query") or "").strip()
    order_by, descending = order_of(params, ORDER_FIELDS, DEFAULT_ORDER_FIELD)
    page, per_page, offset, limit = page_of(params)
    query = CampaignQuery(
        search=search,
        statuses=tuple(s for s in params.getall("status", []) if s),
        tags=tuple(t for t in [*params.getall("tag", []), *params.getall("tags", [])] if t),
        order_by=order_by,
        descending=descending,
        offset=offset,
        limit=limit,
        no_body=go_bool(params.get("no_body")),
        permitted_lists=_tuple(current_user(request).campaign_lists("get")),
    )
    results, total = await query_campaigns(runtime.read_pool, query)
    if not results:  # listmonk answers an empty page with zero values
        return {"data": envelope([], 0, 0, 0)}
    return {"data": envelope(results, total, per_page, page, query=search)}


@get("/api/campaigns/{campaign_id:str}", guards=[require_auth], operation_id="getCampaignById")
async def get_campaign(
    request: Request[Any, Any, Any], campaign_id: FromPath[str],
    runtime: NamedDependency[Runtime],
) -> dict[str, Any]:
    no_body = go_bool(request.query_params.get("no_body"))
    found = await fetch_campaign(runtime.read_pool, path_id(campaign_id), no_body)
    if found is None:
        raise APIError(404, CAMPAIGN_NOT_FOUND)
    current_user(request).require_campaign(
        "get", [int(lst["id"]) for lst in found["lists"] if lst.get("id") is not None])
    return {"data": found}


def _tuple(ids: list[int] | None) -> tuple[int, ...] | None:
    return None if ids is None else tuple(ids)


@get("/api/campaigns/running/stats", guards=[require_auth],
     operation_id="getRunningCampaignStats")
async def get_running_stats(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """Progress of running campaigns; ``campaign_id`` (repeatable) narrows it to those."""
    raw = [v for v in request.query_params.getall("campaign_id", []) if v]
    ids = [i for i in (go_atoi(v) for v in raw) if i is not None and i > 0]
    if raw and not ids:
        return {"data": []}
    return {"data": await running_stats(runtime.read_pool, ids)}
