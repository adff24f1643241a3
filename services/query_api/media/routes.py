"""``GET /api/media`` and ``GET /api/media/:id``, as listmonk's ``cmd/media.go``.

The listing shows the files of the provider in force (``upload.provider``), newest first,
filtered by ``query`` (a part of the file name, any case), paged like every listmonk listing.
URLs are made with the settings in force (``services.media_storage.render_media``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from readmodels.media import fetch_media, query_media
from readmodels.paging import envelope
from services.auth.guard import require_auth
from services.http.errors import APIError
from services.http.params import page_of, path_id
from services.media_storage import render_media
from services.runtime import Runtime

NOT_FOUND = "not found"  # listmonk's core.ErrNotFound


@get("/api/media", guards=[require_auth], operation_id="getMedia")
async def get_media(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    params = request.query_params
    search = str(params.get("query") or "")
    page, per_page, offset, limit = page_of(params)
    settings = await runtime.live_settings.get()
    rows, total = await query_media(runtime.read_pool, provider=settings.upload_provider,
                                    search=search, offset=offset, limit=limit)
    results = [render_media(row, settings) for row in rows]
    # listmonk leaves the page's `query` empty here (it is not echoed back)
    return {"data": envelope(results, total, per_page, page)}


@get("/api/media/{media_id:str}", guards=[require_auth], operation_id="getMediaById")
async def get_media_by_id(
    media_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    row = await fetch_media(runtime.read_pool, path_id(media_id))
    if row is None:
        raise APIError(404, NOT_FOUND)
    return {"data": render_media(row, await runtime.live_settings.get())}
