"""``GET /api/maintenance/analytics/{views|clicks}/export?since=<RFC 3339>``
(``settings:maintain``): listmonk's ``ExportCampaignAnalytics``, the views or link clicks
recorded at or after ``since`` as CSV (``campaign_<type>.csv``), streamed in pages of
``EXPORT_BATCH`` rows in row order. Columns: campaign_id, campaign_uuid, campaign_name,
subscriber_id, subscriber_uuid, email, subscriber_name, (url for clicks,) created_at
(RFC 3339, UTC). Anonymous rows and erased subscribers have subscriber_id 0 and empty fields,
as listmonk's ``COALESCE``s give them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal, cast

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from events.maintenance import parse_rfc3339
from readmodels.maintenance import export_page
from services.auth.guard import require_auth
from services.http.errors import APIError
from services.query_api.subscribers.routes import csv_line
from services.runtime import Runtime

EXPORT_BATCH = 1000
INVALID_DATA = "Invalid data"  # listmonk's globals.messages.invalidData
HEADERS: dict[str, tuple[str, ...]] = {
    "views": ("campaign_id", "campaign_uuid", "campaign_name", "subscriber_id",
              "subscriber_uuid", "email", "subscriber_name", "created_at"),
    "clicks": ("campaign_id", "campaign_uuid", "campaign_name", "subscriber_id",
               "subscriber_uuid", "email", "subscriber_name", "url", "created_at"),
}


def rfc3339(moment: datetime) -> str:
    """Go's ``Format(time.RFC3339)`` of a UTC time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def csv_rows(rows: Any) -> bytes:
    return b"".join(csv_line([*(str(v) for v in r[:-1]), rfc3339(r[-1])]) for r in rows)


@get("/api/maintenance/analytics/{kind:str}/export", guards=[require_auth],
     operation_id="exportMaintenanceAnalytics")
async def export_analytics(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                           kind: FromPath[str]) -> Stream:
    """The views or clicks since ``since``, as CSV."""
    since = parse_rfc3339(str(request.query_params.get("since") or ""))
    if since is None or kind not in HEADERS:
        raise APIError(400, INVALID_DATA)
    which = cast(Literal["views", "clicks"], kind)
    first = await export_page(runtime.read_pool, which, since, 0, EXPORT_BATCH)

    async def body() -> AsyncIterator[bytes]:
        page = first
        yield csv_line(HEADERS[which]) + csv_rows(page.rows)
        while len(page.rows) == EXPORT_BATCH:
            page = await export_page(runtime.read_pool, which, since, page.last_id,
                                     EXPORT_BATCH)
            yield csv_rows(page.rows)

    return Stream(body(), media_type="text/csv", headers={
        "Content-Disposition": f"attachment; filename=campaign_{which}.csv",
        "Cache-Control": "no-cache"})
