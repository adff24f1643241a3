"""``GET /api/campaigns/:id/preview``: the stored campaign rendered for listmonk's dummy
subscriber (``services/http/previews.py``; the POST previews are command routes)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.auth.guard import require_auth
from services.http.params import go_atoi, path_id
from services.http.previews import campaign_row, render_campaign_preview
from services.runtime import Runtime


@get("/api/campaigns/{campaign_id:str}/preview", guards=[require_auth],
     operation_id="previewCampaignById")
async def preview_campaign(
    runtime: NamedDependency[Runtime], campaign_id: FromPath[str],
    request: Request[Any, Any, Any],
) -> Response[str]:
    template_id = max(go_atoi(request.query_params.get("template_id")) or 0, 0)
    row = await campaign_row(runtime, path_id(campaign_id), template_id)
    return render_campaign_preview(row, (await runtime.live_settings.get()).app_root_url)
