"""List roles on writes (issue 12, part 3), as listmonk's cmd/subscribers.go and
cmd/campaigns.go apply them: a user whose list role reaches list A only manages A's subscribers
and campaigns, is refused (403, nothing appended) for those only on B, sees B's name masked on a
subscriber of both, and ``lists:manage_all`` lifts the limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar import Litestar

from services.runtime import Runtime
from tests.integration.users_roles_support import (
    client_as,
    create_api_user,
    create_list_role,
    create_role,
    unique,
)

MANAGER = ("subscribers:get", "subscribers:manage", "campaigns:get", "campaigns:manage",
           "bounces:get", "bounces:manage", "campaigns:send")


async def _events_by(runtime: Runtime, actor: str) -> int:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM eventlog.events WHERE metadata->>'actor' = %s", (actor,))
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class World:
    a: dict[str, Any]
    b: dict[str, Any]
    subs: dict[str, dict[str, Any]]
    camps: dict[str, dict[str, Any]]
    list_role: int


async def _subscriber(api: httpx.AsyncClient, name: str, lists: list[int]) -> dict[str, Any]:
    r = await api.post("/api/subscribers", json={
        "email": f"{unique(name)}@example.com", "name": unique(name), "lists": lists})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def _campaign(api: httpx.AsyncClient, lists: list[int]) -> httpx.Response:
    return await api.post("/api/campaigns", json={
        "name": unique("camp"), "subject": "s", "lists": lists, "content_type": "plain",
        "body": "hi"})


async def _world(api: httpx.AsyncClient) -> World:
    a = (await api.post("/api/lists", json={"name": unique("A")})).json()["data"]
    b = (await api.post("/api/lists", json={"name": unique("B"), "description": "secret"})
         ).json()["data"]
    subs = {"a": await _subscriber(api, "on-a", [a["id"]]),
            "b": await _subscriber(api, "on-b", [b["id"]]),
            "ab": await _subscriber(api, "on-ab", [a["id"], b["id"]])}
    camps = {}
    for name, lst in (("a", a), ("a2", a), ("b", b)):
        r = await _campaign(api, [lst["id"]])
        assert r.status_code == 200, r.text
        camps[name] = r.json()["data"]
    role = await create_list_role(api, {a["id"]: ["list:get", "list:manage"]})
    return World(a=a, b=b, subs=subs, camps=camps, list_role=role)


async def _lists_of(api: httpx.AsyncClient, subscriber_id: int) -> dict[int, str]:
    r = await api.get(f"/api/subscribers/{subscriber_id}")
    assert r.status_code == 200, r.text
    return {x["id"]: x["subscription_status"] for x in r.json()["data"]["lists"]}


async def test_subscriber_writes_are_limited_to_the_lists_of_the_list_role(
        app: Litestar, api: httpx.AsyncClient, runtime: Runtime) -> None:
    w = await _world(api)
    a, b, on_a, on_b, on_ab = (w.a["id"], w.b["id"], w.subs["a"]["id"], w.subs["b"]["id"],
                               w.subs["ab"]["id"])
    user = await create_api_user(api, await create_role(api, *MANAGER), w.list_role)
    async with client_as(app, user) as client:
        # create: B is filtered out; only B is refused
        r = await client.post("/api/subscribers", json={
            "email": f"{unique('new')}@example.com", "lists": [a, b]})
        assert r.status_code == 200, r.text
        created = r.json()["data"]
        assert [x["id"] for x in created["lists"]] == [a]
        before = await _events_by(runtime, user["username"])
        r = await client.post("/api/subscribers", json={
            "email": f"{unique('new')}@example.com", "lists": [b]})
        assert (r.status_code, r.json()) == (403, {"message": "Permission denied: lists"})

        # a subscriber only on B is out of reach for every write
        refused = [
            await client.put(f"/api/subscribers/{on_b}", json={
                "email": w.subs["b"]["email"], "name": "x", "lists": [a]}),
            await client.patch(f"/api/subscribers/{on_b}", json={"name": "x"}),
            await client.delete(f"/api/subscribers/{on_b}"),
            await client.delete("/api/subscribers", params={"id": [on_a, on_b]}),
            await client.put(f"/api/subscribers/{on_b}/blocklist"),
            await client.put("/api/subscribers/blocklist", json={"ids": [on_a, on_b]}),
            await client.put("/api/subscribers/lists", json={
                "ids": [on_b], "action": "remove", "target_list_ids": [a]}),
            await client.post(f"/api/subscribers/{on_b}/optin"),
            await client.delete(f"/api/subscribers/{on_b}/bounces"),
        ]
        for r in refused:
            assert (r.status_code, r.json()) == (
                403, {"message": f"Permission denied: subscriber: {on_b}"}), r.request.url
        for path in ("export", "bounces", "activity"):  # reads of one subscriber too
            r = await client.get(f"/api/subscribers/{on_b}/{path}")
            assert (r.status_code, r.json()) == (
                403, {"message": f"Permission denied: subscriber: {on_b}"}), path
            assert (await client.get(f"/api/subscribers/{on_a}/{path}")).status_code == 200
        r = await client.put("/api/subscribers/lists", json={
            "ids": [on_a], "action": "add", "target_list_ids": [b]})
        assert (r.status_code, r.json()) == (403, {"message": "Permission denied: lists"})
        r = await client.post("/api/subscribers/query/delete",
                              json={"query": "subscribers.id > 0"})
        assert (r.status_code, r.json()) == (
            403, {"message": "Permission denied: subscribers:sql_query"})
        assert await _events_by(runtime, user["username"]) == before  # nothing appended

        # by query: the selection is narrowed to the user's lists
        r = await client.put("/api/subscribers/query/blocklist",
                             json={"search": w.subs["b"]["name"]})
        assert r.status_code == 200, r.text

        # a subscriber on A can be changed; its B subscription is left alone
        r = await client.put(f"/api/subscribers/{on_ab}", json={
            "email": w.subs["ab"]["email"], "name": "renamed", "lists": [a]})
        assert r.status_code == 200, r.text
        answered = {x["id"]: x for x in r.json()["data"]["lists"]}
        assert answered[b]["name"] == "*Unknown" and answered[b]["restricted"] is True
        assert "description" not in answered[b]
        r = await client.put("/api/subscribers/lists", json={
            "ids": [on_a], "action": "unsubscribe", "target_list_ids": [a, b]})
        assert r.status_code == 200, r.text
        assert (await client.delete(f"/api/subscribers/{created['id']}")).status_code == 200

    assert set(await _lists_of(api, on_ab)) == {a, b}
    assert (await api.get(f"/api/subscribers/{on_ab}")).json()["data"]["name"] == "renamed"
    assert await _lists_of(api, on_a) == {a: "unsubscribed"}
    assert (await api.get(f"/api/subscribers/{created['id']}")).status_code == 404
    b_now = (await api.get(f"/api/subscribers/{on_b}")).json()["data"]
    assert b_now["status"] == "enabled" and b_now["name"] == w.subs["b"]["name"]


async def test_a_subscribers_other_lists_are_masked(
        app: Litestar, api: httpx.AsyncClient) -> None:
    w = await _world(api)
    a, b, on_ab = w.a["id"], w.b["id"], w.subs["ab"]["id"]
    user = await create_api_user(api, await create_role(api, *MANAGER), w.list_role)
    async with client_as(app, user) as client:
        one = (await client.get(f"/api/subscribers/{on_ab}")).json()["data"]["lists"]
        page = (await client.get("/api/subscribers", params={"list_id": a, "per_page": "all"})
                ).json()["data"]["results"]
    listed = next(s for s in page if s["id"] == on_ab)["lists"]
    for lists in (one, listed):
        shown = {x["id"]: x for x in lists}
        assert set(shown) == {a, b}
        assert shown[a]["name"] == w.a["name"] and "restricted" not in shown[a]
        assert shown[b]["name"] == "*Unknown" and shown[b]["restricted"] is True
        assert "description" not in shown[b]
    admin_view = {x["id"]: x for x in
                  (await api.get(f"/api/subscribers/{on_ab}")).json()["data"]["lists"]}
    assert admin_view[b]["name"] == w.b["name"] and admin_view[b]["description"] == "secret"


async def test_campaign_writes_need_the_campaigns_lists(
        app: Litestar, api: httpx.AsyncClient, runtime: Runtime) -> None:
    w = await _world(api)
    a, b = w.a["id"], w.b["id"]
    on_b, on_a = w.camps["b"]["id"], w.camps["a"]["id"]
    user = await create_api_user(api, await create_role(api, *MANAGER), w.list_role)
    async with client_as(app, user) as client:
        before = await _events_by(runtime, user["username"])
        refused = [
            await client.put(f"/api/campaigns/{on_b}", json={"name": "x", "lists": [a]}),
            await client.put(f"/api/campaigns/{on_b}/status", json={"status": "scheduled"}),
            await client.put(f"/api/campaigns/{on_b}/archive", json={"archive": True}),
            await client.post(f"/api/campaigns/{on_b}/test", json={"subscribers": []}),
            await client.delete(f"/api/campaigns/{on_b}"),
        ]
        for r in refused:
            assert (r.status_code, r.json()) == (
                403, {"message": "Permission denied: campaigns:manage"}), r.request.url
        r = await client.post(f"/api/campaigns/{on_b}/preview", data={"body": "x"})
        assert r.status_code == 403
        assert await _events_by(runtime, user["username"]) == before

        r = await client.put(f"/api/campaigns/{on_a}", json={
            "name": "mine", "subject": "s", "lists": [a, b], "content_type": "plain",
            "body": "b"})
        assert r.status_code == 200, r.text
        assert [x["id"] for x in r.json()["data"]["lists"]] == [a]
        r = await _campaign(client, [a, b])
        assert r.status_code == 200, r.text
        assert [x["id"] for x in r.json()["data"]["lists"]] == [a]
        r = await _campaign(client, [b])
        assert r.status_code == 400  # no list left: listmonk's missing-lists error
        r = await client.delete("/api/campaigns",
                                params={"id": [w.camps["a2"]["id"], on_b]})
        assert r.status_code == 200, r.text

    assert (await api.get(f"/api/campaigns/{w.camps['a2']['id']}")).status_code == 404
    kept = (await api.get(f"/api/campaigns/{on_b}")).json()["data"]
    assert (kept["name"], kept["status"]) == (w.camps["b"]["name"], "draft")


@pytest.mark.parametrize("extra", ["lists:manage_all", "lists:get_all"])
async def test_the_all_lists_permissions_lift_the_limits(
        app: Litestar, api: httpx.AsyncClient, extra: str) -> None:
    w = await _world(api)
    a, b = w.a["id"], w.b["id"]
    user = await create_api_user(api, await create_role(api, *MANAGER, extra), w.list_role)
    async with client_as(app, user) as client:
        r = await client.get(f"/api/subscribers/{w.subs['ab']['id']}")
        assert {x["name"] for x in r.json()["data"]["lists"]} == {w.a["name"], w.b["name"]}
        r = await client.put(f"/api/subscribers/{w.subs['b']['id']}/blocklist")
        assert r.status_code == 200, r.text
        r = await client.put(f"/api/campaigns/{w.camps['b']['id']}", json={
            "name": "theirs", "subject": "s", "lists": [a, b], "content_type": "plain",
            "body": "b"})
        assert r.status_code == 200, r.text
        assert [x["id"] for x in r.json()["data"]["lists"]] == [a, b]
        if extra == "lists:manage_all":
            r = await client.post("/api/subscribers", json={
                "email": f"{unique('new')}@example.com", "lists": [a, b]})
            assert r.status_code == 200, r.text
            assert [x["id"] for x in r.json()["data"]["lists"]] == [a, b]
            r = await client.put(f"/api/subscribers/{w.subs['ab']['id']}", json={
                "email": w.subs["ab"]["email"], "lists": [a]})
            assert [x["id"] for x in r.json()["data"]["lists"]] == [a]  # B removed
    assert (await api.get(f"/api/subscribers/{w.subs['b']['id']}")
            ).json()["data"]["status"] == "blocklisted"
