"""Commands over the subscribers a query selects, through HTTP: ``/api/subscribers/query/delete``,
``/query/blocklist`` and ``/query/lists``. Deleting by query erases like ``DELETE`` does.

Each test scopes its selection to its own list (``list_ids``), since the database is shared.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from events.crypto import load_keys
from services.runtime import Runtime
from tests.integration.subscribers_support import (
    create,
    event_count,
    get,
    get_list,
    make_list,
    scalar,
    statuses,
)

PREFIX = "Error preparing subscriber query: "
EXAMPLE = "subscribers.name LIKE 'John Doe' AND subscribers.attribs->>'city' = 'Bengaluru'"


async def exists(api: httpx.AsyncClient, subscriber_id: int) -> bool:
    response = await api.get(f"/api/subscribers/{subscriber_id}")
    assert response.status_code in (200, 404)
    return response.status_code == 200


async def test_delete_by_query_erases_exactly_the_selection(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    listed = await make_list(api)
    doomed = await create(api, name="John Doe", lists=[listed["id"]],
                          attribs={"city": "Bengaluru"})
    kept = await create(api, name="John Doe", lists=[listed["id"]], attribs={"city": "Pune"})
    outside = await create(api, name="John Doe", attribs={"city": "Bengaluru"})
    response = await api.post("/api/subscribers/query/delete",
                              json={"query": EXAMPLE, "list_ids": [listed["id"]]})
    assert (response.status_code, response.json()) == (200, {"data": True})
    assert not await exists(api, doomed["id"])  # read-your-writes: no waiting
    assert await exists(api, kept["id"]) and await exists(api, outside["id"])
    assert (await get_list(api, listed["id"]))["subscriber_count"] == 1
    async with runtime.pool.connection() as conn:
        assert doomed["id"] not in await load_keys(conn, [doomed["id"], kept["id"]])
    assert await scalar(runtime, "SELECT count(*) FROM eventlog.subscriber_emails"
                        " WHERE subscriber_id = %s", doomed["id"]) == 0
    assert await scalar(runtime, "SELECT count(*) FROM eventlog.events WHERE stream_id = %s"
                        " AND type = 'subscriber.deleted'", f"subscriber-{doomed['id']}") == 1
    assert await scalar(runtime, "SELECT count(*) FROM eventlog.events"
                        " WHERE data::text LIKE %s", f"%{doomed['email']}%") == 0


async def test_delete_all_and_by_search(api: httpx.AsyncClient) -> None:
    listed = await make_list(api)
    marker = uuid.uuid4().hex[:8]
    found = await create(api, name=f"Find {marker}", lists=[listed["id"]])
    rest = [await create(api, lists=[listed["id"]]) for _ in range(2)]
    outside = await create(api, name=f"Find {marker}")
    response = await api.post("/api/subscribers/query/delete",
                              json={"search": marker.upper(), "list_ids": [listed["id"]]})
    assert response.json() == {"data": True}
    assert not await exists(api, found["id"]) and await exists(api, outside["id"])
    response = await api.post("/api/subscribers/query/delete", json={
        "all": True, "query": "this is ignored", "list_ids": [listed["id"]]})
    assert response.json() == {"data": True}
    assert [await exists(api, s["id"]) for s in rest] == [False, False]
    assert await exists(api, outside["id"])
    assert (await get_list(api, listed["id"]))["subscriber_count"] == 0


async def test_blocklist_by_query_with_the_seed_example(api: httpx.AsyncClient) -> None:
    listed = await make_list(api)
    john = await create(api, name="John Doe", lists=[listed["id"]], attribs={"city": "Bengaluru"},
                        preconfirm_subscriptions=True)
    jane = await create(api, name="Jane Doe", lists=[listed["id"]], attribs={"city": "Bengaluru"})
    response = await api.put("/api/subscribers/query/blocklist",
                             json={"query": EXAMPLE, "list_ids": [listed["id"]]})
    assert (response.status_code, response.json()) == (200, {"data": True})
    after = await get(api, john["id"])
    assert (after["status"], statuses(after)) == ("blocklisted", {listed["id"]: "unsubscribed"})
    assert (await get(api, jane["id"]))["status"] == "enabled"
    # The documentation's example sends POST; it is accepted too.
    response = await api.post("/api/subscribers/query/blocklist", json={
        "query": "subscribers.name = 'Jane Doe'", "list_ids": [listed["id"]]})
    assert response.json() == {"data": True}
    assert (await get(api, jane["id"]))["status"] == "blocklisted"


async def test_manage_lists_by_query(api: httpx.AsyncClient) -> None:
    source, target = await make_list(api), await make_list(api)
    a = await create(api, name="Alpha", lists=[source["id"]])
    b = await create(api, name="Beta", lists=[source["id"], target["id"]],
                     preconfirm_subscriptions=True)
    c = await create(api, name="Gamma", lists=[source["id"]])
    body = {"query": "subscribers.name IN ('Alpha', 'Beta')", "list_ids": [source["id"]],
            "target_list_ids": [target["id"], 999999999]}
    response = await api.put("/api/subscribers/query/lists",
                             json={**body, "action": "add", "status": "confirmed"})
    assert response.json() == {"data": True}
    assert statuses(await get(api, a["id"])) == {source["id"]: "unconfirmed",
                                                 target["id"]: "confirmed"}
    assert statuses(await get(api, b["id"]))[target["id"]] == "confirmed"  # left as it was
    assert target["id"] not in statuses(await get(api, c["id"]))
    response = await api.put("/api/subscribers/query/lists", json={**body, "action": "add"})
    assert statuses(await get(api, a["id"]))[target["id"]] == "confirmed"  # no downgrade
    await api.put("/api/subscribers/query/lists", json={**body, "action": "unsubscribe"})
    assert statuses(await get(api, a["id"]))[target["id"]] == "unsubscribed"
    await api.put("/api/subscribers/query/lists", json={**body, "action": "remove"})
    assert statuses(await get(api, b["id"])) == {source["id"]: "confirmed"}
    # No query and no search: everyone in the source lists, as in listmonk.
    await api.put("/api/subscribers/query/lists", json={
        "list_ids": [source["id"]], "target_list_ids": [target["id"]], "action": "add"})
    assert (await get_list(api, target["id"]))["subscriber_count"] == 3


async def test_bad_requests_are_400_and_append_nothing(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    before = await event_count(runtime)
    cases = [
        ("POST", "/api/subscribers/query/delete", {}, "Invalid fields: query"),
        ("PUT", "/api/subscribers/query/blocklist", {"query": "  ;"}, "Invalid fields: query"),
        ("PUT", "/api/subscribers/query/lists", {"query": "TRUE", "action": "add"},
         "No lists given."),
        ("PUT", "/api/subscribers/query/lists",
         {"query": "TRUE", "action": "drop", "target_list_ids": [1]}, "Invalid action."),
    ]
    for method, path, body, message in cases:
        response = await api.request(method, path, json=body)
        assert (response.status_code, response.json()) == (400, {"message": message}), body
    response = await api.post("/api/subscribers/query/delete", json={"query": 5})
    assert response.status_code == 400
    assert await event_count(runtime) == before


@pytest.mark.parametrize("query", [
    "1=1; DELETE FROM readmodel.subscribers",
    "TRUE OR pg_sleep(10) IS NULL",
    "subscribers.id IN (SELECT subscriber_id FROM eventlog.subscriber_keys)",
    "x') OR ('1'='1",
    "TRUE -- everyone",
])
async def test_hostile_queries_change_nothing(
    api: httpx.AsyncClient, runtime: Runtime, query: str
) -> None:
    listed = await make_list(api)
    sub = await create(api, lists=[listed["id"]])
    before = await event_count(runtime)
    for method, path, extra in [
        ("POST", "/api/subscribers/query/delete", {}),
        ("PUT", "/api/subscribers/query/blocklist", {}),
        ("PUT", "/api/subscribers/query/lists", {"action": "remove",
                                                 "target_list_ids": [listed["id"]]}),
    ]:
        response = await api.request(method, path, json={"query": query, **extra})
        assert response.status_code == 400, (path, response.text)
        assert response.json()["message"].startswith(PREFIX)
    assert await event_count(runtime) == before
    assert statuses(await get(api, sub["id"])) == {listed["id"]: "unconfirmed"}


async def test_large_selections_are_applied_in_batches(
    api: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.command_api.subscribers import by_query

    monkeypatch.setattr(by_query, "BATCH_SIZE", 2)
    listed = await make_list(api)
    subs = [await create(api, lists=[listed["id"]]) for _ in range(5)]
    response = await api.post("/api/subscribers/query/delete",
                              json={"all": True, "list_ids": [listed["id"]]})
    assert response.json() == {"data": True}
    assert [await exists(api, s["id"]) for s in subs] == [False] * 5
    transactions = await scalar(
        runtime, "SELECT count(DISTINCT tx_id::text) FROM eventlog.events"
        " WHERE type = 'subscriber.deleted' AND stream_id = ANY(%s)",
        [f"subscriber-{s['id']}" for s in subs])
    assert transactions == 3


async def test_a_retry_with_the_same_idempotency_key_changes_nothing_more(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    listed = await make_list(api)
    first = await create(api, lists=[listed["id"]])
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"all": True, "list_ids": [listed["id"]]}
    response = await api.put("/api/subscribers/query/blocklist", json=body, headers=headers)
    assert response.json() == {"data": True}
    assert (await get(api, first["id"]))["status"] == "blocklisted"
    await api.put(f"/api/subscribers/{first['id']}", json={
        "email": first["email"], "name": first["name"], "status": "enabled",
        "lists": [listed["id"]]})
    before = await event_count(runtime)
    again = await api.put("/api/subscribers/query/blocklist", json=body, headers=headers)
    assert (again.status_code, again.content) == (response.status_code, response.content)
    assert await event_count(runtime) == before
    assert (await get(api, first["id"]))["status"] == "enabled"
