"""The Lists API through HTTP, against Postgres and NATS with the relay and projector running.

The database is shared by the session, so each test tags its lists with a tag of its own and
looks only at those.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from projections.lists import ListsProjection
from projections.rebuild import rebuild
from services.runtime import Runtime

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$")
LIST_KEYS = ["id", "created_at", "updated_at", "uuid", "name", "type", "optin", "status", "tags",
             "description", "subscriber_count", "subscriber_statuses",
             "subscription_created_at", "subscription_updated_at"]


def tag() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/lists", json=fields)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def tagged(api: httpx.AsyncClient, label: str, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/lists", params={"tag": label, **params})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def event_count(runtime: Runtime) -> int:
    async with runtime.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM eventlog.events")
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_create_answers_the_list_as_get_shows_it(api: httpx.AsyncClient) -> None:
    created = await create(api, name="Test list", type="public", optin="single",
                           tags=["test"], description="This is a test list")
    assert list(created) == LIST_KEYS
    assert created["id"] >= 1 and uuid.UUID(created["uuid"])
    assert {k: created[k] for k in ("name", "type", "optin", "status", "tags", "description",
                                    "subscriber_count", "subscriber_statuses")} == {
        "name": "Test list", "type": "public", "optin": "single", "status": "active",
        "tags": ["test"], "description": "This is a test list", "subscriber_count": 0,
        "subscriber_statuses": {}}
    assert TIMESTAMP.match(created["created_at"]) and created["updated_at"] == created["created_at"]
    fetched = await api.get(f"/api/lists/{created['id']}")  # read-your-writes: no waiting
    assert fetched.status_code == 200
    assert fetched.json() == {"data": created}


async def test_seed_example_and_listmonk_defaults(api: httpx.AsyncClient) -> None:
    seed = await create(api, name="My List", type="public", optin="double", tags=["newsletter"])
    assert (seed["type"], seed["optin"], seed["status"], seed["tags"]) == (
        "public", "double", "active", ["newsletter"])
    bare = await create(api, name="Only a name")
    assert (bare["type"], bare["optin"], bare["status"], bare["tags"], bare["description"]) == (
        "private", "single", "active", [], "")


async def test_tags_are_normalised_and_unknown_fields_ignored(api: httpx.AsyncClient) -> None:
    created = await create(api, name="x", tags=["  two words ", ""], id=999999, colour="red")
    assert created["tags"] == ["two-words"] and created["id"] != 999999


async def test_update_keeps_fields_sent_empty_and_replaces_tags(api: httpx.AsyncClient) -> None:
    before = await create(api, name="Before", type="public", optin="double", tags=["a"],
                          description="kept")
    response = await api.put(f"/api/lists/{before['id']}", json={"name": "After"})
    assert response.status_code == 200, response.text
    after = response.json()["data"]
    assert (after["name"], after["type"], after["optin"], after["description"], after["tags"]) == (
        "After", "public", "double", "kept", [])
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] >= before["updated_at"]
    assert (await api.get(f"/api/lists/{before['id']}")).json() == {"data": after}


async def test_update_with_a_form_like_the_docs_example(api: httpx.AsyncClient) -> None:
    before = await create(api, name="test list", type="public", optin="single")
    response = await api.put(f"/api/lists/{before['id']}",
                             data={"name": "modified test list", "type": "private"})
    assert response.status_code == 200, response.text
    after = response.json()["data"]
    assert (after["name"], after["type"], after["optin"]) == (
        "modified test list", "private", "single")


async def test_update_every_field(api: httpx.AsyncClient) -> None:
    before = await create(api, name="x")
    label = tag()
    body = {"name": "y", "type": "temporary", "optin": "double", "status": "archived",
            "tags": [label], "description": "d"}
    after = (await api.put(f"/api/lists/{before['id']}", json=body)).json()["data"]
    assert {k: after[k] for k in body} == {**body, "tags": [label]}


async def test_delete_one_then_it_is_gone(api: httpx.AsyncClient) -> None:
    created = await create(api, name="doomed")
    path = f"/api/lists/{created['id']}"
    assert (await api.delete(path)).json() == {"data": True}
    assert (await api.get(path)).status_code == 404
    assert (await api.get(path)).json() == {"message": "List not found"}
    assert (await api.put(path, json={"name": "x"})).status_code == 404
    assert (await api.delete(path)).json() == {"data": True}  # listmonk ignores unknown ids


async def test_delete_many_by_id_in_one_transaction(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    label = tag()
    ids = [(await create(api, name=f"bulk {n}", tags=[label]))["id"] for n in range(3)]
    before = await event_count(runtime)
    response = await api.delete("/api/lists", params=[("id", ids[0]), ("id", ids[1]),
                                                      ("id", 99_999_999)])
    assert response.json() == {"data": True}
    assert [r["id"] for r in (await tagged(api, label))["results"]] == [ids[2]]
    assert await event_count(runtime) == before + 2
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT count(DISTINCT tx_id) FROM eventlog.events WHERE type = 'list.deleted'"
            " AND stream_id = ANY(%s)", ([f"list-{i}" for i in ids[:2]],))
        assert await cur.fetchone() == (1,)


async def test_delete_many_by_query(api: httpx.AsyncClient) -> None:
    label, word = tag(), f"zq{uuid.uuid4().hex[:8]}"
    await create(api, name=f"Weekly {word} digest", tags=[label])
    keep = await create(api, name="Something else", tags=[label])
    assert (await api.delete("/api/lists", params={"query": word})).json() == {"data": True}
    assert [r["id"] for r in (await tagged(api, label))["results"]] == [keep["id"]]


@pytest.mark.parametrize(("params", "message"), [
    ({}, "One or more IDs are invalid: id or query required"),
    ({"id": "abc"}, 'One or more IDs are invalid: strconv.Atoi: parsing "abc": invalid syntax'),
    ({"id": "0"}, "One or more IDs are invalid: 0 is not a valid ID"),
])
async def test_delete_many_refuses_bad_ids(
    api: httpx.AsyncClient, params: dict[str, str], message: str
) -> None:
    response = await api.delete("/api/lists", params=params)
    assert (response.status_code, response.json()) == (400, {"message": message})


async def test_pagination_and_per_page_all(api: httpx.AsyncClient) -> None:
    label = tag()
    ids = [(await create(api, name=f"page {n}", tags=[label]))["id"] for n in range(5)]
    page2 = await tagged(api, label, per_page=2, page=2, order_by="name", order="asc")
    assert [r["name"] for r in page2["results"]] == ["page 2", "page 3"]
    assert {k: page2[k] for k in ("query", "total", "per_page", "page")} == {
        "query": "", "total": 5, "per_page": 2, "page": 2}
    everything = await tagged(api, label, per_page="all")
    assert (everything["per_page"], everything["total"], len(everything["results"])) == (0, 5, 5)
    assert [r["id"] for r in everything["results"]] == sorted(ids, reverse=True)  # newest first
    beyond = await tagged(api, label, per_page=2, page=9)
    assert (beyond["results"], beyond["total"]) == ([], 5)
    defaults = await tagged(api, label, per_page="x", page="-3")
    assert (defaults["per_page"], defaults["page"]) == (20, 1)


async def test_ordering(api: httpx.AsyncClient) -> None:
    label = tag()
    for name in ("b", "c", "a"):
        await create(api, name=name, tags=[label])
    names = [r["name"] for r in (await tagged(api, label, order_by="name"))["results"]]
    assert names == ["c", "b", "a"]  # order defaults to desc
    names = [r["name"] for r in (await tagged(api, label, order_by="name", order="ASC"))
             ["results"]]
    assert names == ["a", "b", "c"]
    names = [r["name"] for r in (await tagged(api, label, order_by="id;drop"))["results"]]
    assert names == ["a", "c", "b"]  # unknown order_by: created_at desc


async def test_search_by_name(api: httpx.AsyncClient) -> None:
    label, word = tag(), f"kw{uuid.uuid4().hex[:8]}"
    hit = await create(api, name=f"Monthly {word} Newsletter", tags=[label])
    await create(api, name="Unrelated", tags=[label])
    for query in (word, word.upper()[:6], f"monthly {word}", f"  {word} "):
        found = await tagged(api, label, query=query)
        assert [r["id"] for r in found["results"]] == [hit["id"]], query
        assert found["query"] == query.strip()
    assert (await tagged(api, label, query="(:*&|!"))["results"] == []


async def test_tag_and_enum_filters(api: httpx.AsyncClient) -> None:
    one, two = tag(), tag()
    both = await create(api, name="both", tags=[one, two], type="public", optin="double")
    only = await create(api, name="only", tags=[one], status="archived")
    rows = await api.get("/api/lists", params=[("tag", one), ("tag", two)])
    assert [r["id"] for r in rows.json()["data"]["results"]] == [both["id"]]
    assert [r["id"] for r in (await tagged(api, one, status="archived"))["results"]] == [
        only["id"]]
    assert [r["id"] for r in (await tagged(api, one, type="public", optin="double"))
            ["results"]] == [both["id"]]
    bad = await api.get("/api/lists", params={"type": "secret"})
    assert bad.status_code == 400 and "Invalid list type" in bad.json()["message"]


async def test_minimal_returns_every_list_by_id(api: httpx.AsyncClient) -> None:
    created = await create(api, name="minimal one", status="archived")
    data = (await api.get("/api/lists", params={"minimal": "true", "per_page": 1})).json()["data"]
    ids = [r["id"] for r in data["results"]]
    assert ids == sorted(ids) and created["id"] in ids
    assert data["total"] == data["per_page"] == len(ids) and data["page"] == 1
    archived = (await api.get("/api/lists", params={"minimal": "1", "status": "archived"}))
    assert {r["status"] for r in archived.json()["data"]["results"]} == {"archived"}
    assert list(data["results"][0]) == LIST_KEYS


async def test_public_lists_are_active_public_ones_without_auth(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    shown = await create(api, name="Opt-in list", type="public")
    hidden = [await create(api, name="private", type="private"),
              await create(api, name="archived", type="public", status="archived")]
    response = await anon.get("/api/public/lists")
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list) and all(set(item) == {"uuid", "name"} for item in body)
    uuids = [item["uuid"] for item in body]
    assert {"uuid": shown["uuid"], "name": "Opt-in list"} in body
    assert not {h["uuid"] for h in hidden} & set(uuids)


async def test_admin_endpoints_need_credentials(anon: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/api/lists"), ("GET", "/api/lists/1"), ("POST", "/api/lists"),
                         ("PUT", "/api/lists/1"), ("DELETE", "/api/lists/1"),
                         ("DELETE", "/api/lists?id=1")):
        response = await anon.request(method, path)
        assert response.status_code == 403, (method, path)


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1.5"])
async def test_ids_below_one_or_not_numbers_are_invalid(api: httpx.AsyncClient, bad: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await api.request(method, f"/api/lists/{bad}", json={"name": "x"})
        assert (response.status_code, response.json()) == (400, {"message": "invalid ID"})


async def test_unknown_list_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/lists/987654321")
    assert (response.status_code, response.json()) == (404, {"message": "List not found"})


@pytest.mark.parametrize(("body", "message"), [
    (b'{"name": ', "Syntax error"),
    (b'{"name": 12}', "Unmarshal type error: expected=string, got=number, field=name"),
    (b'{"name": "x", "tags": "a"}', "field=tags"),
    (b'{"name": ""}', "Invalid name"),
    (b"{}", "Invalid name"),
    (b'{"name": "x", "type": "secret"}', "Invalid list type"),
    (b'{"name": "x", "optin": "maybe"}', "Invalid list opt-in"),
    (b'{"name": "x", "status": "deleted"}', "Invalid list status"),
])
async def test_bad_bodies_are_400_and_append_nothing(
    api: httpx.AsyncClient, runtime: Runtime, body: bytes, message: str
) -> None:
    target = await create(api, name="target")
    before = await event_count(runtime)
    headers = {"Content-Type": "application/json"}
    for method, path in (("POST", "/api/lists"), ("PUT", f"/api/lists/{target['id']}")):
        response = await api.request(method, path, content=body, headers=headers)
        assert response.status_code == 400, (method, response.text)
        assert message in response.json()["message"]
    assert await event_count(runtime) == before


async def test_other_media_types_are_415(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/lists", content=b"name=x",
                              headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.json()) == (415, {"message": "Unsupported Media Type"})


async def test_update_of_a_missing_list_appends_nothing(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    before = await event_count(runtime)
    response = await api.put("/api/lists/987654321", json={"name": "x"})
    assert (response.status_code, response.json()) == (404, {"message": "List not found"})
    assert await event_count(runtime) == before


async def test_same_idempotency_key_gives_the_same_answer_and_one_list(
    api: httpx.AsyncClient
) -> None:
    label = tag()
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"name": "once", "tags": [label]}
    first = await api.post("/api/lists", json=body, headers=headers)
    second = await api.post("/api/lists", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert (await tagged(api, label))["total"] == 1


async def test_rebuilding_the_projection_gives_the_same_answers(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    label = tag()
    ids = [(await create(api, name=f"r{n}", tags=[label]))["id"] for n in range(3)]
    await api.put(f"/api/lists/{ids[0]}", json={"name": "renamed", "tags": [label, "x"]})
    await api.delete(f"/api/lists/{ids[1]}")
    before = await tagged(api, label, per_page="all")
    await rebuild(runtime.settings, runtime.pool, ListsProjection(), progress=False)
    assert await tagged(api, label, per_page="all") == before
    after_swap = await create(api, name="after swap", tags=[label])  # the runner goes on
    assert (await api.get(f"/api/lists/{after_swap['id']}")).status_code == 200
