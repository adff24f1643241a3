"""Command endpoints of e-mail templates: create, update, delete, set the default, preview a body.

Each write runs through the executor (idempotency, one transaction, nothing appended on
failure) and answers once the ``templates`` projection has caught up, with the JSON the query
side gives. ``POST /api/templates/preview`` changes nothing; it lives here because the gateway
sends every POST to the command API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath
from psycopg.rows import tuple_row

from events.store import ConcurrencyError
from events.templates import TemplateCreated
from readmodels.templates import all_templates, fetch_template, render_template
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.decider import decide_on_stream, load
from services.command_api.executor import Decision, execute
from services.command_api.respond import answer, run_command
from services.command_api.sequences import next_id
from services.command_api.templates.binding import (
    TemplateFields,
    fields_from_form,
    fields_from_json,
)
from services.command_api.templates.commands import (
    TEMPLATE_ID_SEQUENCE,
    DeleteTemplate,
    MakeDefault,
    UnsetDefault,
)
from services.command_api.templates.decider import Active, stream_id, template_decider
from services.http.binding import read_body
from services.http.params import no_body_param, path_id
from services.http.previews import html_response, preview_form
from services.runtime import Runtime

PROJECTIONS = ("templates",)
_NO_DEFAULT_LOCK = 0x706F73746C6F6703  # serialises the (rare) first choice of a default


def _now() -> datetime:
    return datetime.now(UTC)


async def read_fields(request: Request[Any, Any, Any]) -> TemplateFields:
    """The template fields of a JSON or form body (echo's binder: an empty body binds
    nothing, other media types are 415)."""
    return await read_body(request, fields_from_json, fields_from_form, TemplateFields())


async def _latest_default(conn: psycopg.AsyncConnection[Any]) -> int | None:
    # Each change of default unsets the previous one, which committed before it was read, so
    # the committed changes form one chain in log order: the last one names the default.
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT (data->>'template_id')::bigint FROM eventlog.events"
        " WHERE category = 'template' AND type = 'template.default_set'"
        " ORDER BY global_position DESC LIMIT 1")
    row = await cur.fetchone()
    return int(row[0]) if row else None


async def current_default(conn: psycopg.AsyncConnection[Any]) -> int | None:
    """The id of the default template, checked against its own stream (a stale answer makes
    the executor retry the command). With no default at all, first choosers serialise."""
    found = await _latest_default(conn)
    if found is None:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_NO_DEFAULT_LOCK,))
        found = await _latest_default(conn)
        if found is None:
            return None
    state, version = await load(conn, stream_id(found), template_decider)
    if not (isinstance(state, Active) and state.is_default):
        raise ConcurrencyError(stream_id(found), version)
    return found


@post("/api/templates", guards=[require_auth], operation_id="createTemplate", status_code=200)
async def create_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    fields = await read_fields(request)
    at = _now()
    fields.to_create(0, at)  # validate (and compile) before taking an id from the sequence
    ctx = await command_context(request)
    created: list[TemplateCreated] = []

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        template_id = await next_id(conn, TEMPLATE_ID_SEQUENCE)
        command = fields.to_create(template_id, at)
        append = await decide_on_stream(conn, stream_id(template_id), template_decider, command)
        created[:] = [e for e in append.events if isinstance(e, TemplateCreated)]
        return Decision([append], {"template_id": template_id})

    outcome = await execute(runtime.pool, ctx, decide)
    template_id = int(outcome.result["template_id"])

    async def read() -> dict[str, Any] | None:
        found = await fetch_template(runtime.read_pool, template_id)
        if found is None and created:  # the projection is late: answer from the event
            e = created[0]
            return render_template({
                "id": e.template_id, "created_at": e.at, "updated_at": e.at, "name": e.name,
                "subject": e.subject, "type": e.template_type, "body": e.body,
                "body_source": e.body_source, "is_default": False})
        return found

    return await answer(runtime, ctx, outcome, PROJECTIONS, read)


@put("/api/templates/{template_id:str}", guards=[require_auth],
     operation_id="updateTemplateById", status_code=200)
async def update_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    template_id: FromPath[str],
) -> Response[bytes]:
    target = path_id(template_id)
    command = (await read_fields(request)).to_update(target, _now())

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        append = await decide_on_stream(conn, stream_id(target), template_decider, command)
        return Decision([append], {"template_id": target})

    return await run_command(request, runtime, decide, PROJECTIONS,
                             lambda: fetch_template(runtime.read_pool, target))


@put("/api/templates/{template_id:str}/default", guards=[require_auth],
     operation_id="setDefaultTemplateById", status_code=200)
async def set_default_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    template_id: FromPath[str],
) -> Response[bytes]:
    """Make a campaign template the default; answers every template, like listmonk."""
    target = path_id(template_id)
    no_body = no_body_param(request)
    at = _now()

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        previous = await current_default(conn)
        made = await decide_on_stream(conn, stream_id(target), template_decider,
                                      MakeDefault(template_id=target,
                                                  previous_template_id=previous, at=at))
        if not made.events or previous is None:  # already the default, or the first one
            return Decision([made])
        unset = await decide_on_stream(conn, stream_id(previous), template_decider,
                                       UnsetDefault(template_id=previous,
                                                    new_default_template_id=target, at=at))
        return Decision([unset, made])  # unset first: never two defaults in the read model

    return await run_command(request, runtime, decide, PROJECTIONS,
                             lambda: all_templates(runtime.read_pool, no_body))


@delete("/api/templates/{template_id:str}", guards=[require_auth],
        operation_id="deleteTemplateById", status_code=200)
async def delete_template(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    template_id: FromPath[str],
) -> Response[bytes]:
    """Delete a template that is not the default; campaigns using it switch to the default."""
    target = path_id(template_id)
    at = _now()

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        default = await current_default(conn)
        command = DeleteTemplate(template_id=target, default_template_id=default, at=at)
        return Decision([await decide_on_stream(conn, stream_id(target), template_decider,
                                                command)])

    return await run_command(request, runtime, decide, PROJECTIONS)


@post("/api/templates/preview", guards=[require_auth], operation_id="previewTemplate",
      status_code=200)
async def preview_template_body(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[str]:
    """Render a posted body (``template_type``, ``body``) with dummy data, as raw HTML."""
    template_type, body = await preview_form(request)
    return html_response(runtime.settings, template_type, body, "", check_placeholder=True)
