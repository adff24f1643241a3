"""GET endpoints of mailing lists: ``/api/lists``, ``/api/lists/:id``, ``/api/public/lists``.

Parameters are read the way listmonk reads them (Go's ``strconv`` rules, its paginator's
defaults), so the same URLs give the same pages.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from postlog.runtime import Runtime
from services.http.auth import require_auth
from services.http.errors import APIError
from services.query_api.lists.queries import (
    DEFAULT_ORDER_FIELD,
    ORDER_FIELDS,
    ListQuery,
    all_lists,
    fetch_list,
    public_lists,
    query_lists,
)

DEFAULT_PER_PAGE = 20
MAX_OFFSET = 2**62  # beyond any table; keeps absurd pages inside Postgres bigint
LIST_NOT_FOUND = "List not found"
INVALID_ID = "invalid ID"
_GO_INT = re.compile(r"^[+-]?[0-9]{1,18}$")
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_ENUMS = {
    "type": ("public", "private", "temporary"),
    "optin": ("single", "double"),
    "status": ("active", "archived"),
}


def go_atoi(text: str | None) -> int | None:
    """``strconv.Atoi``: an optionally signed decimal, else ``None`` (no spaces, no ``_``)."""
    if text is None or not _GO_INT.match(text):
        return None
    return int(text)


def path_id(raw: str) -> int:
    """An ``:id`` path parameter: a positive integer, else 400 ``invalid ID`` (like listmonk)."""
    value = go_atoi(raw) or 0
    if value < 1:
        raise APIError(400, INVALID_ID)
    return value


def page_of(params: Any) -> tuple[int, int, int, int | None]:
    """listmonk's paginator: ``(page, per_page, offset, limit)``; ``per_page=all`` (or any
    negative number) means no limit and reports ``per_page`` 0."""
    raw_per_page = params.get("per_page")
    per_page = -1 if raw_per_page == "all" else (go_atoi(raw_per_page) or 0)
    page = max(go_atoi(params.get("page")) or 0, 1)
    if per_page < 0:
        return page, 0, 0, None
    if per_page == 0:
        per_page = DEFAULT_PER_PAGE
    return page, per_page, min((page - 1) * per_page, MAX_OFFSET), per_page


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
    if params.get("minimal") in _TRUE:
        found = await all_lists(runtime.read_pool, status)
        if not found:
            return {"data": []}
        return {"data": _envelope(found, "", len(found), len(found), 1)}
    search = str(params.get("query") or "").strip()
    order_by = str(params.get("order_by") or "")
    order = str(params.get("order") or "").lower()
    page, per_page, offset, limit = page_of(params)
    query = ListQuery(
        search=search,
        list_type=enum_filter(params, "type"),
        optin=enum_filter(params, "optin"),
        status=status,
        tags=tuple(params.getall("tag", [])),
        order_by=order_by if order_by in ORDER_FIELDS else DEFAULT_ORDER_FIELD,
        descending=order != "asc",
        offset=offset,
        limit=limit,
    )
    results, total = await query_lists(runtime.read_pool, query)
    return {"data": _envelope(results, search, total, per_page, page)}


def _envelope(results: list[dict[str, Any]], query: str, total: int, per_page: int,
              page: int) -> dict[str, Any]:
    return {"results": results, "search": "", "query": query, "total": total,
            "per_page": per_page, "page": page}


@get("/api/lists/{list_id:str}", guards=[require_auth], operation_id="getListById")
async def get_list(list_id: FromPath[str], runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    found = await fetch_list(runtime.read_pool, path_id(list_id))
    if found is None:
        raise APIError(404, LIST_NOT_FOUND)
    return {"data": found}


@get("/api/public/lists", operation_id="getPublicLists")
async def get_public_lists(runtime: NamedDependency[Runtime]) -> list[dict[str, str]]:
    """Active public lists as a bare array of ``{uuid, name}``; needs no credentials."""
    return await public_lists(runtime.read_pool)


def list_query_routes() -> list[ControllerRouterHandler]:
    return [get_lists, get_list, get_public_lists]
