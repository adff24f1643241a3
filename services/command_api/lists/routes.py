"""Command routes of mailing lists: create, update, delete one, delete many.

Each binds the request, calls one handler (``handlers.py``) through the executor (idempotency,
one transaction, nothing appended on failure) and answers once the ``lists`` projection has
caught up, with the JSON ``GET /api/lists/:id`` gives.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

from litestar import Request, Response, delete, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from readmodels.lists import fetch_list, ids_matching, render_list
from services.auth.guard import current_user, require_auth
from services.command_api.context import command_context
from services.command_api.executor import execute_handler
from services.command_api.lists import handlers
from services.command_api.lists.commands import (
    CreateList,
    ListFields,
    fields_from_form,
    fields_from_json,
)
from services.command_api.respond import answer, run_handler
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
    new = handlers.NewList(fields=await read_fields(request), uuid=str(uuid.uuid4()), at=_now())
    ctx = await command_context(request)
    outcome = await execute_handler(runtime.pool, ctx, partial(handlers.create_list, new))
    list_id = int(outcome.result["list_id"])

    def fallback() -> dict[str, Any]:  # the read model cannot be read: answer from the command
        return _from_command(new.fields.to_create(list_id, new.uuid, new.at))

    return await answer(runtime, ctx, outcome, PROJECTIONS,
                        lambda: fetch_list(runtime.read_pool, list_id), fallback=fallback)


def _from_command(c: CreateList) -> dict[str, Any]:
    return render_list({
        "id": c.list_id, "created_at": c.at, "updated_at": c.at, "uuid": c.uuid,
        "name": c.name, "type": c.list_type, "optin": c.optin, "status": c.status,
        "tags": list(c.tags), "description": c.description, "subscriber_count": 0,
        "subscriber_statuses": {},
    })


@put("/api/lists/{list_id:str}", guards=[require_auth], operation_id="updateListById",
     status_code=200)
async def update_list(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime], list_id: FromPath[str]
) -> Response[bytes]:
    target = path_id(list_id)
    current_user(request).require_lists("manage", [target])
    command = (await read_fields(request)).to_update(target, _now())
    return await run_handler(request, runtime, partial(handlers.update_list, command),
                             PROJECTIONS, lambda: fetch_list(runtime.read_pool, target))


async def _delete_lists(
    request: Request[Any, Any, Any], runtime: Runtime, ids: list[int] | None, search: str = ""
) -> Response[bytes]:
    """Delete the given lists (or those matching ``search``) in one transaction. Like listmonk,
    ids of lists that do not exist (or no longer exist) are ignored: the answer is still true."""
    user = current_user(request)
    if ids is not None:
        user.require_lists("manage", ids)
        targets = ids
    else:  # by query: only the lists the caller may manage
        targets = user.filter_lists("manage", await ids_matching(runtime.read_pool, search))
    return await run_handler(request, runtime,
                             partial(handlers.delete_lists, targets, _now()), PROJECTIONS)


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
