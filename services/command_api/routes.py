"""Every route of the command API (POST/PUT/PATCH/DELETE endpoints)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from services.command_api.campaigns.routes import campaign_command_routes
from services.command_api.imports.routes import import_command_routes
from services.command_api.lists.routes import list_command_routes
from services.command_api.public.routes import public_command_routes
from services.command_api.subscribers.bounces import subscriber_bounce_routes
from services.command_api.subscribers.bulk import subscriber_bulk_routes
from services.command_api.subscribers.by_query import subscriber_by_query_routes
from services.command_api.subscribers.routes import subscriber_routes
from services.command_api.templates.routes import template_command_routes
from services.command_api.tx.routes import tx_routes


def command_routes() -> list[ControllerRouterHandler]:
    return [*list_command_routes(), *subscriber_routes(), *subscriber_bulk_routes(),
            *template_command_routes(), *campaign_command_routes(), *public_command_routes(),
            *import_command_routes(), *subscriber_by_query_routes(), *subscriber_bounce_routes(),
            *tx_routes()]
