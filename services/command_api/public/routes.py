"""Every public (credential-free) POST endpoint of the command API."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from services.command_api.public.subscribe import subscribe_routes
from services.command_api.public.subscriber_pages import subscriber_page_routes


def public_command_routes() -> list[ControllerRouterHandler]:
    return [*subscribe_routes(), *subscriber_page_routes()]
