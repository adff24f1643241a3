"""Command endpoints of mailing lists: create, update, delete one, delete many.

Each runs through the executor (idempotency, one transaction, nothing appended on failure) and
answers once the ``lists`` projection has caught up, with the JSON ``GET /api/lists/:id`` gives.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.lists import ListCreated
from readmodels.lists import fetch_list, ids_matching, render_list
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.decider import decide_on_stream
from services.command_api.each_stream import decide_each
from services.command_api.executor import Decision, execute
from services.command_api.lists.commands import (
    DeleteList,
    ListFields,
    fields_from_form,
    fields_from_json,
)
from services.command_api.lists.decider import list_decider, stream_id
from services.command_api.respond import answer, run_command
from services.command_api.sequences import next_id
from services.http.binding import read_body
from services.http.params import ids_or_query, path_id
from services.runtime import Runtime

PROJECTIONS = ("lists",)


def _now() -> datetime:
    return datetime.now(UTC)


async def read_fields(request: Request[Any, Any, Any]) -> ListFields:
    """The list fields of a JSON or form body (echo's binder: empty body binds nothing,
    other media types are 415)."""
    return await read_body(request, fields_from_json, fields_from_form, ListFields())


@post("/api/lists", guards=[require_auth], operation_id="createList", status_code=200)
async def create_list(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    fields = await read_fields(request)
    at = _now()
    fields.to_create(0, "", at)  # validate before taking an id from the sequence
    ctx = await command_context(request)
    created: list[ListCreated] = []

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        list_id = await next_id(conn, "eventlog.list_id_seq")
        command = fields.to_create(list_id, str(uuid.uuid4()), at)
        append = await decide_on_stream(conn, stream_id(list_id), list_decider, command)
        created[:] = [e for e in append.events if isinstance(e, ListCreated)]
        return Decision([append], {"list_id": list_id})

    outcome = await execute(runtime.pool, ctx, decide)
    list_id = int(outcome.result["list_id"])

    async def read() -> dict[str, Any] | None:
        found = await fetch_list(runtime.read_pool, list_id)
        if found is None and created:  # the projection is late: answer from the event
            return _from_event(created[0])
        return found

    return await answer(runtime, ctx, outcome, PROJECTIONS, read,
                        fallback=lambda: _from_event(created[0]) if created else None)


def _from_event(e: ListCreated) -> dict[str, Any]:
    return render_list({
        "id": e.list_id, "created_at": e.at, "updated_at": e.at, "uuid": e.uuid,
        "name": e.name, "type": e.list_type, "optin": e.optin, "status": e.status,
        "tags": e.tags, "description": e.description, "subscriber_count": 0,
        "subscriber_statuses": {},
    })


@put("/api/lists/{list_id:str}", guards=[require_auth], operation_id="updateListById",
     status_code=200)
async def update_list(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], list_id: FromPath[str]
) -> Response[bytes]:
    target = path_id(list_id)
    command = (await read_fields(request)).to_update(target, _now())

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        append = await decide_on_stream(conn, stream_id(target), list_decider, command)
        return Decision([append], {"list_id": target})

    return await run_command(request, runtime, decide, PROJECTIONS,
                             lambda: fetch_list(runtime.read_pool, target))


async def _delete_lists(
    request: Request[Any, Any, Any], runtime: Runtime, ids: list[int] | None, search: str = ""
) -> Response[bytes]:
    """Delete the given lists (or those matching ``search``) in one transaction. Like listmonk,
    ids of lists that do not exist (or no longer exist) are ignored: the answer is still true."""
    at = _now()

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        targets = ids if ids is not None else await ids_matching(conn, search)
        return await decide_each(targets, lambda list_id: decide_on_stream(
            conn, stream_id(list_id), list_decider, DeleteList(list_id=list_id, at=at)))

    return await run_command(request, runtime, decide, PROJECTIONS)


@delete("/api/lists/{list_id:str}", guards=[require_auth], operation_id="deleteListById",
        status_code=200)
async def delete_list(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], list_id: FromPath[str]
) -> Response[bytes]:
    return await _delete_lists(request, runtime, [path_id(list_id)])


@delete("/api/lists", guards=[require_auth], operation_id="deleteLists", status_code=200)
async def delete_lists(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """``?id=1&id=2`` deletes those lists; else ``?query=words`` deletes the lists whose name
    matches, and ``?all=true`` (without a query) deletes every list."""
    ids, search = ids_or_query(request.query_params)
    return await _delete_lists(request, runtime, ids, search)
