"""Every route of the command API (POST/PUT/PATCH/DELETE endpoints)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler


def command_routes() -> list[ControllerRouterHandler]:
    return []
