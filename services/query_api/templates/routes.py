"""GET endpoints of e-mail templates: ``/api/templates``, ``/api/templates/:id`` and the
preview of a stored template (raw HTML, not JSON, like listmonk)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from readmodels.templates import all_templates, fetch_template
from services.auth.guard import require_auth
from services.http.errors import APIError
from services.http.params import no_body_param, path_id
from services.http.previews import html_response
from services.runtime import Runtime

TEMPLATE_NOT_FOUND = "Template not found"


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
    root_url = (await runtime.live_settings.get()).app_root_url
    return html_response(root_url, found["type"], found.get("body", ""), found["subject"])
