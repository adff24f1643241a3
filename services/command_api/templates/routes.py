"""Command endpoints of e-mail templates: create, update, delete, set the default, preview a body.

Each write binds the request, runs one handler (``handlers.py``) through the executor
(idempotency, one transaction, nothing appended on failure) and answers once the ``templates``
projection has caught up, with the JSON the query side gives. ``POST /api/templates/preview``
changes nothing; it lives here because the gateway sends every POST to the command API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from readmodels.templates import all_templates, fetch_template, render_template
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.executor import execute_handler
from services.command_api.respond import answer, run_handler
from services.command_api.templates import handlers
from services.command_api.templates.binding import (
    TemplateFields,
    fields_from_form,
    fields_from_json,
)
from services.command_api.templates.commands import CreateTemplate
from services.command_api.templates.template_log import TEMPLATE_LOG
from services.http.binding import read_body
from services.http.params import no_body_param, path_id
from services.http.previews import html_response, preview_form
from services.runtime import Runtime

PROJECTIONS = ("templates",)


def _now() -> datetime:
    return datetime.now(UTC)


async def read_fields(request: Request[Any, Any, Any]) -> TemplateFields:
    """The template fields of a JSON or form body (echo's binder: an empty body binds
    nothing, other media types are 415)."""
    return await read_body(request, fields_from_json, fields_from_form, TemplateFields())


@post("/api/templates", guards=[require_auth], operation_id="createTemplate", status_code=200)
async def create_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    new = handlers.NewTemplate(fields=await read_fields(request), at=_now())
    ctx = await command_context(request)
    outcome = await execute_handler(runtime.pool, ctx, partial(handlers.create_template, new))
    template_id = int(outcome.result["template_id"])

    async def read() -> dict[str, Any] | None:
        found = await fetch_template(runtime.read_pool, template_id)
        if found is None and not outcome.replayed:  # the projection is late: the command's
            return _from_command(new.fields.to_create(template_id, new.at))
        return found

    return await answer(runtime, ctx, outcome, PROJECTIONS, read)


def _from_command(c: CreateTemplate) -> dict[str, Any]:
    """The template as ``GET /api/templates/:id`` shows it right after its creation."""
    return render_template({
        "id": c.template_id, "created_at": c.at, "updated_at": c.at, "name": c.name,
        "subject": c.subject, "type": c.template_type, "body": c.body,
        "body_source": c.body_source, "is_default": False})


@put("/api/templates/{template_id:str}", guards=[require_auth],
     operation_id="updateTemplateById", status_code=200)
async def update_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    template_id: FromPath[str],
) -> Response[bytes]:
    target = path_id(template_id)
    command = (await read_fields(request)).to_update(target, _now())
    return await run_handler(request, runtime, partial(handlers.update_template, command),
                             PROJECTIONS, lambda: fetch_template(runtime.read_pool, target))


@put("/api/templates/{template_id:str}/default", guards=[require_auth],
     operation_id="setDefaultTemplateById", status_code=200)
async def set_default_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    template_id: FromPath[str],
) -> Response[bytes]:
    """Make a campaign template the default; answers every template, like listmonk."""
    target = path_id(template_id)
    no_body = no_body_param(request)
    handler = partial(handlers.set_default_template, target, _now())
    return await run_handler(request, runtime, handler, PROJECTIONS,
                             lambda: all_templates(runtime.read_pool, no_body),
                             ports=TEMPLATE_LOG)


@delete("/api/templates/{template_id:str}", guards=[require_auth],
        operation_id="deleteTemplateById", status_code=200)
async def delete_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    template_id: FromPath[str],
) -> Response[bytes]:
    """Delete a template that is not the default; campaigns using it switch to the default."""
    handler = partial(handlers.delete_template, path_id(template_id), _now())
    return await run_handler(request, runtime, handler, PROJECTIONS, ports=TEMPLATE_LOG)


@post("/api/templates/preview", guards=[require_auth], operation_id="previewTemplate",
      status_code=200)
async def preview_template_body(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[str]:
    """Render a posted body (``template_type``, ``body``) with dummy data, as raw HTML."""
    template_type, body = await preview_form(request)
    root_url = (await runtime.live_settings.get()).app_root_url
    return html_response(root_url, template_type, body, "", check_placeholder=True)
