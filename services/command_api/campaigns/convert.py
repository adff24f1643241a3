"""``POST /api/campaigns/:id/content``: a campaign body converted from one content type to
another, as listmonk's ``CampaignContent`` (``Campaign.ConvertContent``) does.

listmonk's server converts only Markdown to HTML (``from: markdown``, ``to: html`` or
``richtext``), with the same Markdown renderer as campaign e-mails; its admin UI converts the
other pairs in the browser. Every other pair is a 400 ``unknown formats to convert``. The body
is JSON (a campaign's fields, of which ``body``, ``from`` and ``to`` are read) or a form; the
answer is ``{"data": "<converted body>"}``. Nothing is recorded and the campaign is not read
(listmonk only checks the id's form). A command route because the gateway sends every POST to
the command API.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from kernel.errors import InvalidInput
from services.auth.guard import require_auth
from services.http.binding import FORM_MEDIA_TYPES, bind_object, form_values, string_field
from services.http.params import path_id
from services.runtime import Runtime
from services.sender.templating import markdown_to_html

UNKNOWN_FORMATS = "unknown formats to convert"
CONVERSIONS = frozenset({("markdown", "html"), ("markdown", "richtext")})
_FIELDS = ("body", "from", "to")


def convert_content(body: str, source: str, target: str) -> str:
    """``body`` (of content type ``source``) as ``target``; ``InvalidInput`` for a pair
    listmonk's server does not convert."""
    if (source, target) not in CONVERSIONS:
        raise InvalidInput(UNKNOWN_FORMATS)
    return markdown_to_html(body)


async def _request(request: Request[Any, Any, Any]) -> tuple[str, str, str]:
    """``body``, ``from`` and ``to`` of a JSON or form body (absent ones empty)."""
    media_type = request.content_type[0].lower()
    if media_type in FORM_MEDIA_TYPES:
        values = await form_values(request, _FIELDS, lambda _value: False)
        return values.get("body", ""), values.get("from", ""), values.get("to", "")
    data = bind_object(await request.body(), _FIELDS)
    return (string_field(data, "body") or "", string_field(data, "from") or "",
            string_field(data, "to") or "")


@post("/api/campaigns/{campaign_id:str}/content", guards=[require_auth],
      operation_id="convertCampaignContent", status_code=200)
async def convert_campaign_content(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_id: FromPath[str],
) -> Response[Any]:
    """``{"data": "<html>"}`` for a Markdown body converted to HTML."""
    path_id(campaign_id)
    body, source, target = await _request(request)
    return Response(content={"data": convert_content(body, source, target)}, status_code=200,
                    media_type="application/json")
