"""Permissions enforced on every route, walked from the route tables: a user lacking the
route's permission gets 403 and changes nothing; one holding it passes the guard. A route
without a permission fails here unless listmonk also serves it to any user. List roles limit
the lists, subscribers and campaigns a user reaches."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from services.auth.permissions import Route
from services.command_api.routes import COMMAND_ROUTES
from services.query_api.routes import QUERY_ROUTES
from services.runtime import Runtime
from tests.integration.users_roles_support import (
    client_as,
    create_api_user,
    create_list_role,
    create_role,
    unique,
)

# listmonk serves these to any authenticated user (no pm() in cmd/handlers.go); the list
# routes check the list role in their handlers.
OPEN_TO_ANY_USER = re.compile(
    r"^(/api/(health|config|about|lang/.*|dashboard/.*|profile|logout|users/\{[^}]+\}/twofa.*"
    r"|events|lists|lists/\{[^}]+\})|/admin/custom\.(css|js))$")
NO_SUCH_ID = "2147483000"
# /api/admin/reload would restart this test's app; /api/events is an endless stream of
# server-sent events (tests/integration/test_server_info.py reads it as one).
SKIP_WITH_PERMISSION = {"/api/admin/reload", "/api/events"}


def concrete(path: str) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]+)?\}",
                  lambda m: "00000000-0000-4000-8000-000000000000"
                  if "uuid" in m.group(1) else NO_SUCH_ID, path)


def guarded() -> list[tuple[str, str, Route]]:
    found: list[tuple[str, str, Route]] = []
    for route in (*COMMAND_ROUTES, *QUERY_ROUTES):
        handler = route.handler
        assert isinstance(handler, HTTPRouteHandler)
        if not route.access.public:
            found.extend((method, path, route) for method in handler.http_methods
                         if method != "HEAD" for path in handler.paths)
    return sorted(found, key=lambda x: (x[1], x[0]))


def test_every_guarded_route_names_a_permission_unless_listmonk_opens_it() -> None:
    missing = [f"{m} {p}" for m, p, r in guarded()
               if not r.access.permissions and not OPEN_TO_ANY_USER.match(p)]
    assert missing == []


async def _events_by(runtime: Runtime, actor: str) -> int:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM eventlog.events WHERE metadata->>'actor' = %s", (actor,))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _call(client: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    content = b"{not json" if method in ("POST", "PUT", "PATCH") else None
    return await client.request(method, concrete(path), content=content,
                                headers={"content-type": "application/json"})


async def test_each_route_refuses_a_user_without_its_permission_and_admits_one_with_it(
        app: Litestar, api: httpx.AsyncClient, runtime: Runtime) -> None:
    nobody = await create_api_user(api, await create_role(api))
    walked = 0
    async with client_as(app, nobody) as client:
        for method, path, route in guarded():
            if not route.access.permissions or route.access.by_list_role:
                continue
            r = await _call(client, method, path)
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["message"].startswith("permission denied"), (method, path)
            walked += 1
    assert walked > 40
    assert await _events_by(runtime, nobody["username"]) == 0

    holders: dict[str, dict[str, Any]] = {}
    for method, path, route in guarded():
        if not route.access.permissions or path in SKIP_WITH_PERMISSION:
            continue
        permission = route.access.permissions[0]
        if permission not in holders:
            holders[permission] = await create_api_user(api, await create_role(api, permission))
        async with client_as(app, holders[permission]) as client:
            r = await _call(client, method, path)
        assert r.status_code != 403 or not r.json().get("message", "").startswith(
            "permission denied:"), (method, path, permission, r.text)


async def test_list_roles_limit_lists_subscribers_and_campaigns(
        app: Litestar, api: httpx.AsyncClient) -> None:
    label = unique("t")
    mine = (await api.post("/api/lists", json={"name": unique("mine"), "tags": [label]})
            ).json()["data"]
    other = (await api.post("/api/lists", json={"name": unique("other"), "tags": [label]})
             ).json()["data"]
    subs = {}
    for name, lst in (("in-mine", mine), ("in-other", other)):
        r = await api.post("/api/subscribers", json={
            "email": f"{unique(name)}@example.com", "name": name, "lists": [lst["id"]]})
        assert r.status_code == 200, r.text
        subs[name] = r.json()["data"]
    camps = {}
    for name, lst in (("c-mine", mine), ("c-other", other)):
        r = await api.post("/api/campaigns", json={
            "name": unique(name), "subject": "s", "lists": [lst["id"]], "tags": [label],
            "content_type": "plain", "body": "hi"})
        assert r.status_code == 200, r.text
        camps[name] = r.json()["data"]

    role = await create_role(api, "subscribers:get", "campaigns:get")
    lrole = await create_list_role(api, {mine["id"]: ["list:get"]})
    user = await create_api_user(api, role, lrole)
    async with client_as(app, user) as client:
        seen = (await client.get("/api/lists", params={"tag": label})).json()["data"]
        assert [x["id"] for x in seen["results"]] == [mine["id"]]
        assert (await client.get(f"/api/lists/{mine['id']}")).status_code == 200
        assert (await client.get(f"/api/lists/{other['id']}")).status_code == 403
        assert (await client.put(f"/api/lists/{mine['id']}", json={"name": "x"})
                ).status_code == 403

        for list_id in (other["id"], mine["id"]):  # a forbidden list_id is filtered out
            page = (await client.get("/api/subscribers", params={"list_id": list_id,
                                                                   "per_page": "all"})
                    ).json()["data"]["results"]
            ids = {s["id"] for s in page}
            assert subs["in-mine"]["id"] in ids and subs["in-other"]["id"] not in ids
        assert (await client.get(f"/api/subscribers/{subs['in-other']['id']}")
                ).status_code == 403
        assert (await client.get(f"/api/subscribers/{subs['in-mine']['id']}")
                ).status_code == 200
        r = await client.get("/api/subscribers", params={"query": "subscribers.id > 0"})
        assert (r.status_code, r.json()) == (
            403, {"message": "Permission denied: subscribers:sql_query"})

        listed = (await client.get("/api/campaigns", params={"tag": label})).json()["data"]
        assert [c["id"] for c in listed["results"]] == [camps["c-mine"]["id"]]
        assert (await client.get(f"/api/campaigns/{camps['c-other']['id']}")
                ).status_code == 403

    everything = await create_api_user(api, await create_role(
        api, "lists:get_all", "subscribers:get_all", "campaigns:get_all"), lrole)
    async with client_as(app, everything) as client:
        seen = (await client.get("/api/lists", params={"tag": label})).json()["data"]
        assert {x["id"] for x in seen["results"]} == {mine["id"], other["id"]}
        assert (await client.get(f"/api/campaigns/{camps['c-other']['id']}")
                ).status_code == 200


@pytest.mark.parametrize("kind", ["user role", "list role"])
async def test_the_super_admin_role_cannot_be_changed(api: httpx.AsyncClient, kind: str) -> None:
    path = "/api/roles/users/1" if kind == "user role" else "/api/roles/lists/1"
    r = await api.put(path, json={"name": "mine", "permissions": []})
    assert r.status_code == 400
