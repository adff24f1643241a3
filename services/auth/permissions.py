"""Who may call which route: listmonk's permission catalogue and the ``Access`` each route names.

Every route of both APIs is listed in its API's route table (``services/command_api/routes.py``,
``services/query_api/routes.py``) as a ``Route``: the handler and its ``Access``, taken from
listmonk's ``cmd/handlers.go`` (``pm(handler, "perm", ...)``), so no route can be added without
deciding who may call it. ``tests/unit/test_route_tables.py`` checks that every route the app
serves is in a table exactly once, that every permission named is in the catalogue, and that
the guards agree (a public route has none, every other route requires authentication).

Today any authenticated user may call every route (the super-admin and API users hold every
permission); the admin issue enforces ``Access`` per user and list role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from litestar.types import ControllerRouterHandler

# listmonk's permission catalogue (permissions.json), by group.
PERMISSION_GROUPS: dict[str, tuple[str, ...]] = {
    "lists": ("lists:get_all", "lists:manage_all"),
    "subscribers": ("subscribers:get", "subscribers:get_all", "subscribers:manage",
                    "subscribers:import", "subscribers:sql_query", "tx:send"),
    "campaigns": ("campaigns:get", "campaigns:get_all", "campaigns:get_analytics",
                  "campaigns:manage", "campaigns:manage_all", "campaigns:send"),
    "bounces": ("bounces:get", "bounces:manage", "webhooks:post_bounce"),
    "media": ("media:get", "media:manage"),
    "templates": ("templates:get", "templates:manage"),
    "users": ("users:get", "users:manage", "roles:get", "roles:manage"),
    "settings": ("settings:get", "settings:manage", "settings:maintain"),
}
PERMISSIONS: frozenset[str] = frozenset(p for group in PERMISSION_GROUPS.values() for p in group)

ListRight = Literal["get", "manage"]


@dataclass(frozen=True)
class Access:
    """What a caller needs: nothing (``public``), or credentials and any one of
    ``permissions`` (none named: any authenticated user). ``per_list`` says the handler also
    limits the caller to the lists its list role grants (``get`` or ``manage``), as listmonk
    does for lists, for subscribers (by their lists) and for campaigns (by theirs); the
    group's ``*_all`` permission (``lists:manage_all``, ``subscribers:get_all``,
    ``campaigns:manage_all``...) lifts the limit."""

    public: bool = False
    permissions: tuple[str, ...] = ()
    per_list: ListRight | None = None

    def __post_init__(self) -> None:
        unknown = [p for p in self.permissions if p not in PERMISSIONS]
        if unknown:
            raise ValueError(f"unknown permissions: {unknown}")
        if self.public and (self.permissions or self.per_list):
            raise ValueError("a public route needs no permission")


PUBLIC = Access(public=True)
AUTHENTICATED = Access()


def needs(*permissions: str, per_list: ListRight | None = None) -> Access:
    """Access for a caller holding any one of ``permissions``."""
    return Access(permissions=permissions, per_list=per_list)


def lists(right: ListRight, *permissions: str) -> Access:
    """Access to lists through the caller's list role (``lists:get_all`` / ``lists:manage_all``
    reach every list)."""
    return Access(permissions=permissions, per_list=right)


@dataclass(frozen=True)
class Route:
    """One route of an API and who may call it."""

    handler: ControllerRouterHandler
    access: Access


def handlers(table: tuple[Route, ...]) -> list[ControllerRouterHandler]:
    """The route handlers of a table, in its order (what the app registers)."""
    return [route.handler for route in table]
