"""Previews, shared by both APIs: templates and campaigns rendered with listmonk's dummy
subscriber, answered as raw HTML (``text/plain`` for plain-text campaigns), like listmonk.

The GET previews are query routes; the POST previews (a posted body rendered as a template or
as a campaign) are served by the command API, since the gateway sends every POST there, but
they only read the read models. Both sides answer with these functions.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from gotemplate import TemplateError
from readmodels.campaigns import campaign_for_preview
from services.http.binding import form_values
from services.http.errors import APIError
from services.http.params import go_atoi, path_id
from services.runtime import Runtime
from services.sender.templating import compile_campaign_body
from services.sender.templating.data import (
    DUMMY_UUID,
    ENGLISH,
    Campaign,
    CampaignMessage,
    Subscriber,
)
from services.sender.templating.funcs_listmonk import I18n, campaign_funcs
from services.sender.templating.previews import MISSING_PLACEHOLDER, has_content_tag, preview

HTML_MEDIA_TYPE = "text/html"  # litestar adds "; charset=utf-8"
CAMPAIGN_NOT_FOUND = "Campaign not found"
COMPILE_ERROR = "Error compiling template: {}"
RENDER_ERROR = "Error rendering message: {}"
_PREVIEW_TYPES = ("campaign", "campaign_visual", "tx")
_FORM_FIELDS = ("content_type", "body", "template_id")


# --- templates ---------------------------------------------------------------------------------

def html_response(root_url: str, template_type: str, body: str, subject: str,
                  check_placeholder: bool = False) -> Response[str]:
    """A preview rendered with dummy data as ``text/html`` (links under ``root_url``, the
    settings' ``app.root_url``); bad templates are 400s."""
    if check_placeholder and template_type == "campaign" and not has_content_tag(body):
        raise APIError(400, MISSING_PLACEHOLDER)
    html = preview(template_type, body, subject, root_url)
    return Response(content=html, status_code=200, media_type=HTML_MEDIA_TYPE)


async def preview_form(request: Request[Any, Any, Any]) -> tuple[str, str]:
    """``template_type`` and ``body`` from a form (or JSON) body or the query string, like
    echo's ``FormValue``; the type defaults to ``campaign``."""
    values = await form_values(request, ("template_type", "body"),
                               lambda v: isinstance(v, str))
    template_type = values.get("template_type") or "campaign"
    if template_type not in _PREVIEW_TYPES:
        raise APIError(400, f"Invalid template type: {template_type!r}"
                            " (one of campaign, campaign_visual, tx)")
    return template_type, values.get("body", "")




# --- campaigns ---------------------------------------------------------------------------------

async def campaign_row(runtime: Runtime, campaign_id: int, template_id: int) -> dict[str, Any]:
    """The campaign (and template body) a preview renders; 404 for an unknown campaign."""
    row = await campaign_for_preview(runtime.read_pool, campaign_id, template_id)
    if row is None:
        raise APIError(404, CAMPAIGN_NOT_FOUND)
    return row


def render_campaign_preview(row: dict[str, Any], root_url: str) -> Response[str]:
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


async def posted_campaign_preview(request: Request[Any, Any, Any], runtime: Runtime,
                          campaign_id: str) -> Response[str]:
    target = path_id(campaign_id)
    values = await _form(request)
    content_type = values.get("content_type", "")
    template_id = max(go_atoi(values.get("template_id")) or 0, 0)
    if content_type == "visual":
        template_id = 0
    row = await campaign_row(runtime, target, template_id)
    row.update(content_type=content_type, body=values.get("body", ""))
    return render_campaign_preview(row, (await runtime.live_settings.get()).app_root_url)


