"""Every route of the command API (POST/PUT/PATCH/DELETE endpoints)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from services.command_api.lists.routes import list_command_routes
from services.command_api.subscribers.bulk import subscriber_bulk_routes
from services.command_api.subscribers.routes import subscriber_routes
from services.command_api.templates.routes import template_command_routes


def command_routes() -> list[ControllerRouterHandler]:
    return [*list_command_routes(), *subscriber_routes(), *subscriber_bulk_routes(),
            *template_command_routes()]
