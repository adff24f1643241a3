"""``GET /api/campaigns/analytics/{views|clicks|bounces|links}`` as listmonk answers it
(``cmd/campaigns.go: GetCampaignViewAnalytics``): ``id`` repeated (each a positive integer),
``from`` and ``to`` 10 to 30 characters that read as a timestamp. Views and clicks count
subscribers rather than hits while ``privacy.individual_tracking`` is on, as listmonk does.
The reads: ``readmodels/analytics.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from readmodels.analytics import CountKind, campaign_counts, link_counts
from services.auth.guard import require_auth
from services.http.errors import APIError
from services.http.params import parse_ids
from services.runtime import Runtime

MISSING_ID = "Missing field(s): `id`"
INVALID_DATES = "Invalid `from` or `to` dates."
INVALID_DATA = "Invalid data"


def parse_when(text: str) -> datetime | None:
    """listmonk's 10 to 30 characters that Postgres reads as a timestamp (UTC without an
    offset); None otherwise."""
    if not 10 <= len(text) <= 30:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@get("/api/campaigns/analytics/{kind:str}", guards=[require_auth],
     operation_id="getCampaignAnalytics")
async def get_analytics(
    request: Request[Any, Any, Any], kind: FromPath[str], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """Views, clicks, bounces (``[{campaign_id, count, timestamp}]``) or links
    (``[{url, count}]``) of campaigns between ``from`` and ``to``."""
    params = request.query_params
    ids = parse_ids(params.getall("id", []))
    if not ids:
        raise APIError(400, MISSING_ID)
    start = parse_when(str(params.get("from") or ""))
    end = parse_when(str(params.get("to") or ""))
    if start is None or end is None:
        raise APIError(400, INVALID_DATES)
    unique = (await runtime.live_settings.get()).privacy_individual_tracking
    if kind == "links":
        return {"data": await link_counts(runtime.read_pool, ids, start, end, unique)}
    if kind not in ("views", "clicks", "bounces"):
        raise APIError(400, INVALID_DATA)
    counted = cast(CountKind, kind)
    return {"data": await campaign_counts(runtime.read_pool, counted, ids, start, end, unique)}
