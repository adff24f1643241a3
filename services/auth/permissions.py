"""Who may call which route: listmonk's permission catalogue and the ``Access`` each route names.

Every route of both APIs is listed in its API's route table (``services/command_api/routes.py``,
``services/query_api/routes.py``) as a ``Route``: the handler and its ``Access``, taken from
listmonk's ``cmd/handlers.go`` (``pm(handler, "perm", ...)``), so no route can be added without
deciding who may call it. ``tests/unit/test_route_tables.py`` checks that every route the app
serves is in a table exactly once, that every permission named is in the catalogue, and that
the guards agree (a public route has none, every other route requires authentication).

``handlers`` hands each route's ``Access`` to its handler (``opt["access"]``), where the guard
(``guard.py: require_auth``) enforces it per request: the caller's user role must hold one of
the permissions, and list roles narrow what per-list routes reach (docs/users_roles.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from litestar.types import ControllerRouterHandler

from events.roles import PERMISSION_GROUPS as CATALOGUE_GROUPS
from events.roles import PERMISSIONS as CATALOGUE

PERMISSION_GROUPS = CATALOGUE_GROUPS  # listmonk's catalogue, by group (events/roles.py)
PERMISSIONS: frozenset[str] = frozenset(CATALOGUE)

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
    # listmonk's list routes have no pm(): any user passes the guard and the handler checks
    # the list role per list (``permissions`` are then the ``lists:*_all`` overrides).
    by_list_role: bool = False

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
    return Access(permissions=permissions, per_list=right, by_list_role=True)


@dataclass(frozen=True)
class Route:
    """One route of an API and who may call it."""

    handler: ControllerRouterHandler
    access: Access


ACCESS_OPT = "access"


def handlers(table: tuple[Route, ...]) -> list[ControllerRouterHandler]:
    """The route handlers of a table, in its order (what the app registers), each carrying
    its ``Access`` in ``opt`` for the guard."""
    for route in table:
        opt = getattr(route.handler, "opt", None)
        if isinstance(opt, dict):
            opt[ACCESS_OPT] = route.access
    return [route.handler for route in table]
