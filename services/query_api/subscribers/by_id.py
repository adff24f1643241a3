"""``GET /api/subscribers/:id``: one subscriber with its lists, in listmonk's JSON shape."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from kernel.errors import Forbidden
from readmodels.subscriber_listing import mask_lists
from readmodels.subscribers import fetch_subscriber
from services.auth.guard import current_user, require_auth
from services.http.errors import APIError
from services.http.params import path_id
from services.runtime import Runtime

SUBSCRIBER_NOT_FOUND = "Subscriber not found"


@get("/api/subscribers/{subscriber_id:str}", guards=[require_auth],
     operation_id="getSubscriberById")
async def get_subscriber(
    subscriber_id: FromPath[str], runtime: NamedDependency[Runtime],
    request: Request[Any, Any, Any]
) -> dict[str, Any]:
    found = await fetch_subscriber(runtime.read_pool, path_id(subscriber_id))
    if found is None:
        raise APIError(404, SUBSCRIBER_NOT_FOUND)
    user = current_user(request)
    reach = user.subscriber_reach()
    if reach is not None and not {int(lst["id"]) for lst in found["lists"]} & reach:
        # listmonk's hasSubPerm: the subscriber must be on one of the caller's lists
        raise Forbidden(f"Permission denied: subscriber: {found['id']}")
    # listmonk's maskRestrictedSubLists: the lists the caller may not see are masked
    return {"data": mask_lists(found, user.visible_lists())}
