"""Every route the app serves is in its API's route table, once, with the access it requires.

The tables (``services/command_api/routes.py``, ``services/query_api/routes.py``) are where a new
route must say who may call it; this test fails for a route registered any other way, for a
permission that is not listmonk's, and for a guard that disagrees with the table.
"""

from __future__ import annotations

from collections import Counter

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler

from services.auth.guard import require_auth
from services.auth.permissions import PERMISSIONS, Access, Route
from services.command_api.routes import COMMAND_ROUTES, command_routes
from services.query_api.routes import QUERY_ROUTES, query_routes

TABLES: tuple[Route, ...] = (*COMMAND_ROUTES, *QUERY_ROUTES)


def served() -> list[tuple[str, str]]:
    """(method, path) of every route the two APIs register, as the app sees them."""
    app = Litestar(route_handlers=[*command_routes(), *query_routes()], openapi_config=None,
                   dependencies={"runtime": Provide(lambda: None, sync_to_thread=False)})
    return sorted((method, route.path) for route in app.routes
                  for handler in getattr(route, "route_handlers", [])
                  for method in handler.http_methods if method not in ("HEAD", "OPTIONS"))


def test_every_served_route_is_in_a_table_exactly_once() -> None:
    in_tables = Counter(
        (method, path) for entry in TABLES for method in entry.handler.http_methods
        for path in entry.handler.paths)
    assert sorted(in_tables) == served()
    assert [key for key, count in in_tables.items() if count > 1] == []


def test_each_api_serves_only_its_own_methods() -> None:
    """The gateway sends GET/HEAD to the query API and everything else to the command API."""
    for entry in COMMAND_ROUTES:
        assert "GET" not in entry.handler.http_methods, entry.handler
    for entry in QUERY_ROUTES:
        assert entry.handler.http_methods <= {"GET", "HEAD"}, entry.handler


@pytest.mark.parametrize("entry", TABLES, ids=lambda e: f"{sorted(e.handler.http_methods)}"
                                                        f" {sorted(e.handler.paths)[0]}")
def test_the_guard_agrees_with_the_table(entry: Route) -> None:
    handler = entry.handler
    assert isinstance(handler, HTTPRouteHandler)
    guarded = require_auth in (handler.guards or [])
    assert guarded is not entry.access.public, (
        "a public route has no guard; every other route requires authentication")
    assert set(entry.access.permissions) <= PERMISSIONS


def test_access_refuses_unknown_permissions_and_public_with_permissions() -> None:
    with pytest.raises(ValueError, match="unknown permissions"):
        Access(permissions=("subscribers:everything",))
    with pytest.raises(ValueError, match="public route"):
        Access(public=True, permissions=("subscribers:get",))


def test_only_the_pages_people_reach_from_mail_and_forms_are_public() -> None:
    public = sorted(p for e in TABLES if e.access.public for p in e.handler.paths)
    assert all(p.startswith(("/subscription/", "/api/public/", "/archive", "/robots.txt",
                             "/link/", "/campaign/", "/webhooks/service/",
                             "/public/custom.", "/admin/login"))
               for p in public), public
