"""Campaign previews: the campaign's body inside its template, rendered for listmonk's dummy
subscriber, as raw HTML (``text/plain`` for plain-text campaigns), like listmonk.

``GET /api/campaigns/:id/preview`` renders what is stored. ``POST /api/campaigns/:id/preview``
(and ``POST /:id/text``, which listmonk serves with the same handler) renders a posted
``body`` and ``content_type`` instead, optionally inside another ``template_id``. The
campaign's uuid is replaced by the dummy one so tracking links and pixels count nothing.
The POST routes are served by the command API (the gateway sends every POST there); they only
read the read models.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler
from psycopg.rows import dict_row

from postlog.runtime import Runtime
from services.http.auth import require_auth
from services.http.binding import form_values
from services.http.errors import APIError
from services.http.params import go_atoi, path_id
from services.sender.templating import TemplateError, compile_campaign_body
from services.sender.templating.data import (
    DUMMY_UUID,
    ENGLISH,
    Campaign,
    CampaignMessage,
    Subscriber,
)
from services.sender.templating.funcs_listmonk import I18n, campaign_funcs

CAMPAIGN_NOT_FOUND = "Campaign not found"
COMPILE_ERROR = "Error compiling template: {}"
RENDER_ERROR = "Error rendering message: {}"
_FORM_FIELDS = ("content_type", "body", "template_id")

_QUERY = """
SELECT c.id, c.name, c.subject, c.from_email, c.body, c.content_type, c.tags, c.type,
       c.status, c.created_at, c.updated_at, COALESCE(t.body, '') AS template_body
FROM readmodel.campaigns c
LEFT JOIN readmodel.templates t
  ON t.id = (CASE WHEN %(template_id)s::bigint = 0 THEN c.template_id
             ELSE %(template_id)s::bigint END)
WHERE c.id = %(id)s
"""


async def _campaign(runtime: Runtime, campaign_id: int, template_id: int) -> dict[str, Any]:
    async with runtime.read_pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(
            _QUERY, {"id": campaign_id, "template_id": template_id})
        row = await cur.fetchone()
    if row is None:
        raise APIError(404, CAMPAIGN_NOT_FOUND)
    found: dict[str, Any] = row
    return found


def render(row: dict[str, Any], root_url: str) -> Response[str]:
    """The campaign's message for the dummy subscriber."""
    content_type = row["content_type"]
    template_body = "" if content_type == "visual" else row["template_body"]
    funcs = campaign_funcs(root_url=root_url, i18n=I18n(ENGLISH))
    try:
        compiled = compile_campaign_body(row["body"], funcs=funcs, content_type=content_type,
                                         template_body=template_body or None)
    except TemplateError as exc:
        raise APIError(400, COMPILE_ERROR.format(exc)) from None
    campaign = Campaign(ID=row["id"], UUID=DUMMY_UUID, Name=row["name"],
                        Subject=row["subject"], FromEmail=row["from_email"],
                        Tags=list(row["tags"] or []), Type=row["type"],
                        ContentType=content_type, Status=row["status"],
                        CreatedAt=row["created_at"], UpdatedAt=row["updated_at"])
    try:
        html = compiled.render(CampaignMessage(Campaign=campaign, Subscriber=Subscriber()))
    except TemplateError as exc:
        raise APIError(400, RENDER_ERROR.format(exc)) from None
    media_type = "text/plain" if content_type == "plain" else "text/html"
    return Response(content=html, status_code=200, media_type=media_type)


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """``content_type``, ``body`` and ``template_id`` like echo's ``FormValue``: from a form
    body (or a JSON one), else from the query string."""
    return await form_values(request, _FORM_FIELDS, _text_or_number)


def _text_or_number(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


@get("/api/campaigns/{campaign_id:str}/preview", guards=[require_auth],
     operation_id="previewCampaignById")
async def preview_campaign(
    runtime: NamedDependency[Runtime], campaign_id: FromPath[str],
    request: Request[Any, Any, Any],
) -> Response[str]:
    template_id = max(go_atoi(request.query_params.get("template_id")) or 0, 0)
    row = await _campaign(runtime, path_id(campaign_id), template_id)
    return render(row, runtime.settings.root_url)


async def _posted_preview(request: Request[Any, Any, Any], runtime: Runtime,
                          campaign_id: str) -> Response[str]:
    target = path_id(campaign_id)
    values = await _form(request)
    content_type = values.get("content_type", "")
    template_id = max(go_atoi(values.get("template_id")) or 0, 0)
    if content_type == "visual":
        template_id = 0
    row = await _campaign(runtime, target, template_id)
    row.update(content_type=content_type, body=values.get("body", ""))
    return render(row, runtime.settings.root_url)


@post("/api/campaigns/{campaign_id:str}/preview", guards=[require_auth],
      operation_id="previewCampaignBody", status_code=200)
async def preview_campaign_body(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_id: FromPath[str],
) -> Response[str]:
    """Render a posted ``body`` (``content_type``, ``template_id``) as this campaign."""
    return await _posted_preview(request, runtime, campaign_id)


@post("/api/campaigns/{campaign_id:str}/text", guards=[require_auth],
      operation_id="previewCampaignText", status_code=200)
async def preview_campaign_text(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_id: FromPath[str],
) -> Response[str]:
    """The same rendering as ``POST /preview`` (listmonk routes both to one handler)."""
    return await _posted_preview(request, runtime, campaign_id)


def campaign_preview_get_routes() -> list[ControllerRouterHandler]:
    return [preview_campaign]


def campaign_preview_post_routes() -> list[ControllerRouterHandler]:
    return [preview_campaign_body, preview_campaign_text]
