"""GET endpoints over many subscribers, and one subscriber's export, bounces and activity.

- ``GET /api/subscribers``: a page of subscribers (each with its ``lists``) matching ``query``,
  ``search``, ``list_id`` (repeatable) and ``subscription_status``, ordered by ``order_by``
  (name, email, status, created_at, updated_at; else id) and ``order`` (asc|desc, default desc).
- ``GET /api/subscribers/export``: the same filter (plus ``id``s) streamed as listmonk's CSV.
- ``GET /api/subscribers/:id/export``: the privacy export, a ``data.json`` download.
- ``GET /api/subscribers/:id/bounces`` and ``/activity``.

A query the sandbox refuses is a 400 ``Error preparing subscriber query: <reason>``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from events.subscribers import SUBSCRIPTION_STATUSES
from kernel.errors import Forbidden
from readmodels.sandbox import QueryRefused, sandboxed
from readmodels.subscriber_listing import (
    PREPARING_QUERY,
    QUERY_TIMEOUT,
    Selection,
    SubscriberFilter,
    export_rows,
    find_page,
    format_query,
    mask_lists,
    selection,
)
from readmodels.subscriber_profile import (
    subscriber_activity,
    subscriber_bounces,
    subscriber_export,
)
from readmodels.subscribers import fetch_subscriber, lists_of, render_subscriber
from services.auth.guard import current_user, require_auth
from services.http.errors import APIError
from services.http.params import go_atoi, page_of, path_id
from services.runtime import Runtime

log = structlog.get_logger(__name__)

INVALID_IDS = "Invalid ID(s)"
INVALID_SUBSCRIPTION_STATUS = "Invalid subscription_status: {!r} (one of {})"
EXPORT_BATCH = 1000  # listmonk's default db batch size
CSV_HEADER = ("uuid", "email", "name", "attributes", "status", "created_at", "updated_at")


def query_ints(params: Any, name: str) -> tuple[int, ...]:
    """listmonk's ``getQueryInts``: every non-empty value an integer, else 400."""
    out: list[int] = []
    for raw in params.getall(name, []):
        if raw == "":
            continue
        value = go_atoi(raw)
        if value is None:
            raise APIError(400, INVALID_IDS)
        out.append(value)
    return tuple(out)


def subscription_status_param(value: str) -> str:
    if value and value not in SUBSCRIPTION_STATUSES:
        raise APIError(400, INVALID_SUBSCRIPTION_STATUS.format(
            value, ", ".join(SUBSCRIPTION_STATUSES)))
    return value


def filter_from_params(params: Any, *, with_ids: bool = False) -> SubscriberFilter:
    return SubscriberFilter(
        query=format_query(params.get("query")),
        search=str(params.get("search") or "").strip(),
        list_ids=query_ints(params, "list_id"),
        subscription_status=subscription_status_param(
            str(params.get("subscription_status") or "")),
        subscriber_ids=query_ints(params, "id") if with_ids else (),
    )


def scoped(request: Request[Any, Any, Any], f: SubscriberFilter) -> SubscriberFilter:
    """The filter limited to what the caller may see: ``query=`` needs
    ``subscribers:sql_query``, ``list_id`` is narrowed by the list role."""
    user = current_user(request)
    user.require_sql_query(f.query)
    return replace(f, list_ids=tuple(user.subscriber_list_filter(f.list_ids)))


def refused(error: QueryRefused) -> APIError:
    return APIError(400, PREPARING_QUERY.format(error.reason))


def prepared(f: SubscriberFilter) -> Selection:
    try:
        return selection(f)
    except QueryRefused as error:
        raise refused(error) from None


@get("/api/subscribers", guards=[require_auth], operation_id="getSubscribers")
async def get_subscribers(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    params = request.query_params
    f = scoped(request, filter_from_params(params))
    page, per_page, offset, limit = page_of(params)
    s = prepared(f)
    try:
        async with runtime.read_pool.connection() as conn, \
                sandboxed(conn, statement_timeout=QUERY_TIMEOUT):
            total, rows = await find_page(
                conn, f, s, order_by=str(params.get("order_by") or ""),
                descending=str(params.get("order") or "").lower() != "asc",
                offset=offset, limit=limit)
            lists = await lists_of(conn, [int(r["id"]) for r in rows])
            visible = current_user(request).visible_lists()  # maskRestrictedSubLists
            results = [mask_lists(render_subscriber(r, lists[int(r["id"])]), visible)
                       for r in rows]
    except QueryRefused as error:
        raise refused(error) from None
    return {"data": {"results": results, "search": f.search, "query": f.query, "total": total,
                     "per_page": per_page, "page": page}}


def go_time(moment: datetime) -> str:
    """Go's ``time.Time.String()`` in UTC, as listmonk's CSV export writes times."""
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}".rstrip("0").rstrip(".")
    return f"{utc:%Y-%m-%d %H:%M:%S}{fraction} +0000 UTC"


def _csv_field(value: str) -> str:
    """Go's ``encoding/csv`` quoting: only when needed, quotes doubled."""
    if value == "":
        return value
    if value == "\\." or any(c in value for c in ',"\r\n') or value[0].isspace():
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(fields: tuple[str, ...] | list[str]) -> bytes:
    return (",".join(_csv_field(v) for v in fields) + "\n").encode()


def _csv_rows(rows: list[tuple[Any, ...]]) -> bytes:
    return b"".join(csv_line([r[1], r[2], r[3], r[4], r[5], go_time(r[6]), go_time(r[7])])
                    for r in rows)


async def _export_batch(runtime: Runtime, s: Selection, after_id: int) -> list[tuple[Any, ...]]:
    async with runtime.read_pool.connection() as conn, \
            sandboxed(conn, statement_timeout=QUERY_TIMEOUT):
        return await export_rows(conn, s, after_id, EXPORT_BATCH)


@get("/api/subscribers/export", guards=[require_auth], operation_id="exportSubscribers")
async def export_subscribers(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Stream:
    """Matching subscribers as CSV, in id order, fetched and sent in batches of 1000."""
    s = prepared(scoped(request, filter_from_params(request.query_params, with_ids=True)))
    try:  # the first batch before answering: a bad query is still a 400
        first = await _export_batch(runtime, s, 0)
    except QueryRefused as error:
        raise refused(error) from None

    async def body() -> AsyncIterator[bytes]:
        batch = first
        yield csv_line(CSV_HEADER) + _csv_rows(batch)
        while len(batch) == EXPORT_BATCH:
            try:
                batch = await _export_batch(runtime, s, int(batch[-1][0]))
            except QueryRefused as error:  # the answer has started: end it early
                log.warning("subscriber_export_truncated", reason=error.reason)
                return
            yield _csv_rows(batch)

    return Stream(body(), media_type="text/csv", headers={
        "Content-Disposition": "attachment; filename=subscribers.csv",
        "Content-Transfer-Encoding": "binary", "Cache-Control": "no-cache"})


def go_indented_json(data: Any) -> bytes:
    """JSON as Go's ``json.MarshalIndent(v, "", "  ")`` writes it (HTML characters escaped)."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text.encode()


@get("/api/subscribers/{subscriber_id:str}/export", guards=[require_auth],
     operation_id="exportSubscriberDataByID")
async def export_subscriber_data(
    subscriber_id: FromPath[str], runtime: NamedDependency[Runtime],
    request: Request[Any, Any, Any],
) -> Response[bytes]:
    """Profile, subscriptions (private lists' names masked), campaign views and link clicks,
    as a ``data.json`` download (not wrapped in ``data``, as listmonk sends it)."""
    target = await _reachable(request, runtime, path_id(subscriber_id))
    data = await subscriber_export(runtime.read_pool, target)
    return Response(content=go_indented_json(data), media_type="application/json", headers={
        "Cache-Control": "no-cache", "Content-Disposition": 'attachment; filename="data.json"'})


@get("/api/subscribers/{subscriber_id:str}/bounces", guards=[require_auth],
     operation_id="getSubscriberBouncesById")
async def get_subscriber_bounces(
    subscriber_id: FromPath[str], runtime: NamedDependency[Runtime],
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    target = await _reachable(request, runtime, path_id(subscriber_id))
    return {"data": await subscriber_bounces(runtime.read_pool, target)}


@get("/api/subscribers/{subscriber_id:str}/activity", guards=[require_auth],
     operation_id="getSubscriberActivityById")
async def get_subscriber_activity(
    subscriber_id: FromPath[str], runtime: NamedDependency[Runtime],
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    target = await _reachable(request, runtime, path_id(subscriber_id))
    return {"data": await subscriber_activity(runtime.read_pool, target)}


async def _reachable(request: Request[Any, Any, Any], runtime: Runtime, subscriber_id: int
                     ) -> int:
    """``subscriber_id`` if the caller may see it (listmonk's ``hasSubPerm``: an existing
    subscriber must be on one of the caller's lists, else 403)."""
    reach = current_user(request).subscriber_reach()
    if reach is None:
        return subscriber_id
    found = await fetch_subscriber(runtime.read_pool, subscriber_id)
    if found is not None and not {int(x["id"]) for x in found["lists"]} & reach:
        raise Forbidden(f"Permission denied: subscriber: {subscriber_id}")
    return subscriber_id
