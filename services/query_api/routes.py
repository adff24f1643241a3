"""Every route of the query API (GET endpoints over the read models)."""

from __future__ import annotations

from litestar import get
from litestar.types import ControllerRouterHandler

from services.http.auth import require_auth
from services.query_api.campaigns.routes import campaign_query_routes
from services.query_api.imports import import_query_routes
from services.query_api.lists.routes import list_query_routes
from services.query_api.public.routes import public_page_routes
from services.query_api.subscribers.by_id import subscriber_by_id_routes
from services.query_api.subscribers.routes import subscriber_query_routes
from services.query_api.templates.routes import template_query_routes


@get("/api/health", guards=[require_auth], operation_id="health")
async def health() -> dict[str, bool]:
    return {"data": True}


def query_routes() -> list[ControllerRouterHandler]:
    return [health, *list_query_routes(), *subscriber_by_id_routes(), *subscriber_query_routes(),
            *template_query_routes(),
            *campaign_query_routes(), *public_page_routes(), *import_query_routes()]
