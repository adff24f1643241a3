"""Query-string and path values read the way listmonk's Go handlers read them.

Go's ``strconv`` rules decide what is a number or a boolean, so the same URL is read alike by
every endpoint (and by postlog and listmonk).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from litestar import Request

from services.http.errors import APIError

INVALID_ID = "invalid ID"
INVALID_IDS = "One or more IDs are invalid: {}"
_GO_INT = re.compile(r"^[+-]?[0-9]{1,18}$")
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def go_atoi(text: str | None) -> int | None:
    """``strconv.Atoi``: an optionally signed decimal, else ``None`` (no spaces, no ``_``)."""
    if text is None or not _GO_INT.match(text):
        return None
    return int(text)


def go_bool(text: str | None) -> bool:
    """``strconv.ParseBool`` where anything unparsable is false."""
    return text in _TRUE


def path_id(raw: str) -> int:
    """An ``:id`` path parameter: a positive integer, else 400 ``invalid ID`` (like listmonk)."""
    value = go_atoi(raw) or 0
    if value < 1:
        raise APIError(400, INVALID_ID)
    return value


def parse_ids(raw_ids: list[str]) -> list[int]:
    """listmonk's ``parseStringIDs``: every value a positive integer, else 400."""
    ids: list[int] = []
    for raw in raw_ids:
        value = go_atoi(raw)
        if value is None:
            raise APIError(400, INVALID_IDS.format(
                f'strconv.Atoi: parsing "{raw}": invalid syntax'))
        if value < 1:
            raise APIError(400, INVALID_IDS.format(f"{value} is not a valid ID"))
        ids.append(value)
    return ids


def ids_or_query(params: Any) -> tuple[list[int] | None, str]:
    """What a bulk ``DELETE`` names: ``?id=1&id=2`` (ids, ``None`` when absent), else
    ``?query=words``, else ``?all=true`` for everything (an empty query); neither is a 400."""
    raw_ids = params.getall("id", [])
    ids = parse_ids(raw_ids) if raw_ids else None
    search = str(params.get("query") or "").strip()
    if ids is None and not search and params.get("all") != "true":
        raise APIError(400, INVALID_IDS.format("id or query required"))
    return ids, search


DEFAULT_PER_PAGE = 20
MAX_OFFSET = 2**62  # beyond any table; keeps absurd pages inside Postgres bigint


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


def order_of(params: Any, fields: Sequence[str], default: str) -> tuple[str, bool]:
    """``(order_by, descending)``: ``order_by`` one of ``fields`` (else ``default``), and
    descending unless ``order`` is ``asc`` (any case)."""
    order_by = str(params.get("order_by") or "")
    descending = str(params.get("order") or "").lower() != "asc"
    return (order_by if order_by in fields else default), descending


def no_body_param(request: Request[Any, Any, Any]) -> bool:
    """``?no_body=true`` (Go's ParseBool; anything unparsable is false)."""
    return go_bool(request.query_params.get("no_body"))
