"""GET endpoints of e-mail templates: ``/api/templates``, ``/api/templates/:id`` and the
preview of a stored template (raw HTML, not JSON, like listmonk)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from postlog.runtime import Runtime
from postlog.settings import Settings
from services.http.auth import require_auth
from services.http.binding import form_values
from services.http.errors import APIError
from services.http.params import go_bool, path_id
from services.query_api.templates.engine import MISSING_PLACEHOLDER, has_content_tag, preview
from services.query_api.templates.queries import all_templates, fetch_template

TEMPLATE_NOT_FOUND = "Template not found"
HTML_MEDIA_TYPE = "text/html"  # litestar adds "; charset=utf-8"
_PREVIEW_TYPES = ("campaign", "campaign_visual", "tx")


def no_body_param(request: Request[Any, Any, Any]) -> bool:
    """``?no_body=true`` (Go's ParseBool; anything unparsable is false)."""
    return go_bool(request.query_params.get("no_body"))


def html_response(settings: Settings, template_type: str, body: str, subject: str,
                  check_placeholder: bool = False) -> Response[str]:
    """A preview rendered with dummy data as ``text/html``; bad templates are 400s."""
    if check_placeholder and template_type == "campaign" and not has_content_tag(body):
        raise APIError(400, MISSING_PLACEHOLDER)
    html = preview(template_type, body, subject, settings.root_url)
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


@get("/api/templates", guards=[require_auth], operation_id="getTemplates")
async def get_templates(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """Every template as a plain array (no pagination), oldest first."""
    return {"data": await all_templates(runtime.read_pool, no_body_param(request))}


@get("/api/templates/{template_id:str}", guards=[require_auth], operation_id="getTemplateById")
async def get_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    template_id: FromPath[str],
) -> dict[str, Any]:
    found = await fetch_template(runtime.read_pool, path_id(template_id),
                                 no_body_param(request))
    if found is None:
        raise APIError(404, TEMPLATE_NOT_FOUND)
    return {"data": found}


@get("/api/templates/{template_id:str}/preview", guards=[require_auth],
     operation_id="previewTemplateById")
async def preview_template(
    runtime: NamedDependency[Runtime], template_id: FromPath[str]
) -> Response[str]:
    """The stored template rendered with a dummy campaign and subscriber, as raw HTML."""
    found = await fetch_template(runtime.read_pool, path_id(template_id))
    if found is None:
        raise APIError(404, TEMPLATE_NOT_FOUND)
    return html_response(runtime.settings, found["type"], found.get("body", ""),
                         found["subject"])


def template_query_routes() -> list[ControllerRouterHandler]:
    return [get_templates, get_template, preview_template]
