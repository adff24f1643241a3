"""``POST /api/campaigns/:id/preview/archive``: the campaign rendered as its public archive
page would show it, for a posted ``archive_meta`` (the subscriber the archive renders for) and
``template_id`` (the template to wrap it in; 0 or absent: the campaign's own), as listmonk's
``PreviewCampaignArchive``. Answers the HTML. It only reads the read models
(``readmodels/archive.py``) and renders with ``services/http/archive.py``; a command route
because the gateway sends every POST to the command API.

Like listmonk it works whether or not the public archive is enabled, for any campaign
(archived or not, any status). Unlike listmonk, an ``archive_meta`` that is not a JSON object
of a subscriber's fields and a template that fails to render are 400s with the reason
(listmonk: a 500 page); an empty ``archive_meta`` is ``{}``.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from gotemplate import TemplateError
from readmodels.archive import campaign_for_archive_preview
from services.auth.guard import require_auth
from services.command_api.campaigns.access import require_campaign
from services.http.archive import ArchiveMetaError, render_archived
from services.http.binding import bind_object, form_values
from services.http.errors import APIError
from services.http.params import go_atoi, path_id
from services.http.previews import CAMPAIGN_NOT_FOUND, HTML_MEDIA_TYPE, RENDER_ERROR
from services.runtime import Runtime

INVALID_META = "Invalid archive_meta: {}"
_FIELDS = ("template_id", "archive_meta")


def _text_or_number(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


async def _archive_meta(request: Request[Any, Any, Any], raw: str) -> Any:
    """The posted meta: a JSON object sent as such in a JSON body, else the text of the form
    value (or JSON string) decoded; empty is ``{}``."""
    if request.content_type[0].lower() == "application/json":
        data = bind_object(await request.body(), _FIELDS)
        if isinstance(data.get("archive_meta"), dict):
            return data["archive_meta"]
    if not raw.strip():
        return {}
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise APIError(400, INVALID_META.format(exc)) from None


@post("/api/campaigns/{campaign_id:str}/preview/archive", guards=[require_auth],
      operation_id="previewCampaignArchive", status_code=200)
async def preview_campaign_archive(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_id: FromPath[str],
) -> Response[str]:
    """The campaign's archive page for the posted ``archive_meta`` and ``template_id``."""
    target = path_id(campaign_id)
    await require_campaign(request, runtime, "get", target)
    values = await form_values(request, _FIELDS, _text_or_number)
    meta = await _archive_meta(request, values.get("archive_meta", ""))
    template_id = max(go_atoi(values.get("template_id")) or 0, 0)
    row = await campaign_for_archive_preview(runtime.read_pool, target, template_id)
    if row is None:
        raise APIError(404, CAMPAIGN_NOT_FOUND)
    settings = await runtime.live_settings.get()
    try:
        rendered = render_archived(row, settings, meta=meta)
    except ArchiveMetaError as exc:
        raise APIError(400, str(exc)) from None
    except TemplateError as exc:
        raise APIError(400, RENDER_ERROR.format(exc)) from None
    return Response(content=rendered.body, status_code=200, media_type=HTML_MEDIA_TYPE)
