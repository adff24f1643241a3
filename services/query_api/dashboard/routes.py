"""``GET /api/dashboard/charts`` and ``GET /api/dashboard/counts`` (listmonk's ``cmd/admin.go``:
any authenticated user, no permission): ``readmodels/dashboard.py``."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency

from readmodels.dashboard import dashboard_charts, dashboard_counts
from services.auth.guard import require_auth
from services.runtime import Runtime


@get("/api/dashboard/charts", guards=[require_auth], operation_id="getDashboardCharts")
async def get_dashboard_charts(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Views and clicks per day over the 30 days up to the latest one."""
    return {"data": await dashboard_charts(runtime.read_pool)}


@get("/api/dashboard/counts", guards=[require_auth], operation_id="getDashboardCounts")
async def get_dashboard_counts(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Subscribers, lists, campaigns and messages sent, counted."""
    return {"data": await dashboard_counts(runtime.read_pool)}
