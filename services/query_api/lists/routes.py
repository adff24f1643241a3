"""GET endpoints of mailing lists: ``/api/lists``, ``/api/lists/:id``, ``/api/public/lists``.

Parameters are read the way listmonk reads them (Go's ``strconv`` rules, its paginator's
defaults), so the same URLs give the same pages.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from readmodels.lists import (
    DEFAULT_ORDER_FIELD,
    ORDER_FIELDS,
    ListQuery,
    all_lists,
    fetch_list,
    public_lists,
    query_lists,
)
from readmodels.paging import envelope
from services.auth.guard import current_user, require_auth
from services.http.errors import APIError
from services.http.params import go_bool, order_of, page_of, path_id
from services.runtime import Runtime

LIST_NOT_FOUND = "List not found"
_ENUMS = {
    "type": ("public", "private", "temporary"),
    "optin": ("single", "double"),
    "status": ("active", "archived"),
}


def enum_filter(params: Any, name: str) -> str:
    value = str(params.get(name) or "")
    if value and value not in _ENUMS[name]:
        raise APIError(400, f"Invalid list {name}: {value!r} (one of {', '.join(_ENUMS[name])})")
    return value


@get("/api/lists", guards=[require_auth], operation_id="getLists")
async def get_lists(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    """Lists: a page of them with filters, or every list with ``minimal=true``."""
    params = request.query_params
    status = enum_filter(params, "status")
    permitted = current_user(request).permitted_lists("get")
    if go_bool(params.get("minimal")):
        found = await all_lists(runtime.read_pool, status, permitted)
        if not found:
            return {"data": []}
        return {"data": envelope(found, len(found), len(found), 1)}
    search = str(params.get("query") or "").strip()
    order_by, descending = order_of(params, ORDER_FIELDS, DEFAULT_ORDER_FIELD)
    page, per_page, offset, limit = page_of(params)
    query = ListQuery(
        search=search,
        list_type=enum_filter(params, "type"),
        optin=enum_filter(params, "optin"),
        status=status,
        tags=tuple(params.getall("tag", [])),
        order_by=order_by,
        descending=descending,
        offset=offset,
        limit=limit,
        permitted=None if permitted is None else tuple(permitted),
    )
    results, total = await query_lists(runtime.read_pool, query)
    return {"data": envelope(results, total, per_page, page, query=search)}


@get("/api/lists/{list_id:str}", guards=[require_auth], operation_id="getListById")
async def get_list(list_id: FromPath[str], runtime: NamedDependency[Runtime],
                   request: Request[Any, Any, Any]) -> dict[str, Any]:
    target = path_id(list_id)
    current_user(request).require_lists("get", [target])
    found = await fetch_list(runtime.read_pool, target)
    if found is None:
        raise APIError(404, LIST_NOT_FOUND)
    return {"data": found}


@get("/api/public/lists", operation_id="getPublicLists")
async def get_public_lists(runtime: NamedDependency[Runtime]) -> list[dict[str, str]]:
    """Active public lists as a bare array of ``{uuid, name}``; needs no credentials."""
    return await public_lists(runtime.read_pool)
