"""``DELETE /api/subscribers/:id/bounces``: delete a subscriber's bounce records.

The handler (``handlers.delete_bounces``) decides with the small ``bounces_decider``
(``bounce_decider.py``), so deleting nothing records nothing. The answer is ``{"data": true}``
either way, as listmonk's; it is sent once the ``bounces`` read model no longer holds the rows.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Request, Response, delete
from litestar.di import NamedDependency
from litestar.params import FromPath

from services.auth.guard import current_user, require_auth
from services.command_api.respond import run_handler
from services.command_api.subscribers import handlers
from services.command_api.subscribers.bounce_decider import DeleteBounces
from services.command_api.subscribers.routing import PROJECTIONS, now
from services.command_api.subscribers.scope import scope_of
from services.http.params import path_id
from services.runtime import Runtime


@delete("/api/subscribers/{subscriber_id:str}/bounces", guards=[require_auth],
        operation_id="deleteSubscriberBouncesById", status_code=200)
async def delete_subscriber_bounces(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    command = DeleteBounces(subscriber_id=path_id(subscriber_id), at=now())
    scope = scope_of(current_user(request))  # the subscriber must be on a permitted list
    return await run_handler(request, runtime,
                             partial(handlers.delete_bounces, command, scope=scope), PROJECTIONS)
