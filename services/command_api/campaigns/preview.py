"""``POST /api/campaigns/:id/preview`` and ``POST /:id/text``: a posted ``body`` (with its
``content_type`` and optional ``template_id``) rendered as the campaign for listmonk's dummy
subscriber. They only read the read models (``services/http/previews.py``); they are command
routes because the gateway sends every POST to the command API."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.auth.guard import require_auth
from services.command_api.campaigns.access import require_campaign
from services.http.params import path_id
from services.http.previews import posted_campaign_preview
from services.runtime import Runtime


@post("/api/campaigns/{campaign_id:str}/preview", guards=[require_auth],
      operation_id="previewCampaignBody", status_code=200)
async def preview_campaign_body(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_id: FromPath[str],
) -> Response[str]:
    """Render a posted ``body`` (``content_type``, ``template_id``) as this campaign."""
    await require_campaign(request, runtime, "get", path_id(campaign_id))
    return await posted_campaign_preview(request, runtime, campaign_id)


@post("/api/campaigns/{campaign_id:str}/text", guards=[require_auth],
      operation_id="previewCampaignText", status_code=200)
async def preview_campaign_text(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_id: FromPath[str],
) -> Response[str]:
    """The same rendering as ``POST /preview`` (listmonk routes both to one handler)."""
    await require_campaign(request, runtime, "get", path_id(campaign_id))
    return await posted_campaign_preview(request, runtime, campaign_id)
