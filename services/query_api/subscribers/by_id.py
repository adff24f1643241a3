"""``GET /api/subscribers/:id``: one subscriber with its lists, in listmonk's JSON shape."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from readmodels.subscribers import fetch_subscriber
from services.auth.guard import require_auth
from services.http.errors import APIError
from services.http.params import path_id
from services.runtime import Runtime

SUBSCRIBER_NOT_FOUND = "Subscriber not found"


@get("/api/subscribers/{subscriber_id:str}", guards=[require_auth],
     operation_id="getSubscriberById")
async def get_subscriber(
    subscriber_id: FromPath[str], runtime: NamedDependency[Runtime]
) -> dict[str, Any]:
    found = await fetch_subscriber(runtime.read_pool, path_id(subscriber_id))
    if found is None:
        raise APIError(404, SUBSCRIBER_NOT_FOUND)
    return {"data": found}
