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
from litestar.types import ControllerRouterHandler
from psycopg.rows import tuple_row

from events.lists import ListCreated
from events.store import StreamAppend
from postlog.runtime import Runtime
from services.command_api.decider import decide_on_stream
from services.command_api.domain import NotFound
from services.command_api.executor import Decision, execute
from services.command_api.lists.commands import (
    DeleteList,
    ListFields,
    fields_from_form,
    fields_from_json,
)
from services.command_api.lists.decider import list_decider, stream_id
from services.command_api.respond import answer
from services.http.auth import require_auth
from services.http.context import command_context
from services.http.errors import APIError
from services.query_api.lists.queries import fetch_list, ids_matching, render_list
from services.query_api.lists.routes import go_atoi, path_id

PROJECTIONS = ("lists",)
INVALID_IDS = "One or more IDs are invalid: {}"


def _now() -> datetime:
    return datetime.now(UTC)


async def read_fields(request: Request[Any, Any, Any]) -> ListFields:
    """The list fields of a JSON or form body (echo's binder: empty body binds nothing,
    other media types are 415)."""
    body = await request.body()
    if not body:
        return ListFields()
    media_type = request.content_type[0].lower()
    if media_type == "application/json":
        return fields_from_json(body)
    if media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        return fields_from_form({k: [str(v) for v in form.getall(k)] for k in form})
    raise APIError(415, "Unsupported Media Type")


async def _next_list_id(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT nextval('eventlog.list_id_seq')")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


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
        list_id = await _next_list_id(conn)
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

    return await answer(runtime, ctx, outcome, PROJECTIONS, read)


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
    ctx = await command_context(request)

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        append = await decide_on_stream(conn, stream_id(target), list_decider, command)
        return Decision([append], {"list_id": target})

    outcome = await execute(runtime.pool, ctx, decide)
    return await answer(runtime, ctx, outcome, PROJECTIONS,
                        lambda: fetch_list(runtime.read_pool, target))


async def _delete_lists(
    request: Request[Any, Any, Any], runtime: Runtime, ids: list[int] | None, search: str = ""
) -> Response[bytes]:
    """Delete the given lists (or those matching ``search``) in one transaction. Like listmonk,
    ids of lists that do not exist (or no longer exist) are ignored: the answer is still true."""
    ctx = await command_context(request)
    at = _now()

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        targets = ids if ids is not None else await ids_matching(conn, search)
        appends: list[StreamAppend] = []
        for list_id in dict.fromkeys(targets):
            try:
                appends.append(await decide_on_stream(
                    conn, stream_id(list_id), list_decider, DeleteList(list_id=list_id, at=at)))
            except NotFound:
                continue
        return Decision(appends, {"deleted": [a.stream_id for a in appends]})

    outcome = await execute(runtime.pool, ctx, decide)
    return await answer(runtime, ctx, outcome, PROJECTIONS)


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
    params = request.query_params
    raw_ids = params.getall("id", [])
    if raw_ids:
        ids: list[int] = []
        for raw in raw_ids:
            value = go_atoi(raw)
            if value is None:
                raise APIError(400, INVALID_IDS.format(
                    f'strconv.Atoi: parsing "{raw}": invalid syntax'))
            if value < 1:
                raise APIError(400, INVALID_IDS.format(f"{value} is not a valid ID"))
            ids.append(value)
        return await _delete_lists(request, runtime, ids)
    search = str(params.get("query") or "").strip()
    if not search and params.get("all") != "true":
        raise APIError(400, INVALID_IDS.format("id or query required"))
    return await _delete_lists(request, runtime, None, search)


def list_command_routes() -> list[ControllerRouterHandler]:
    return [create_list, update_list, delete_list, delete_lists]
