"""The Subscribers API's bulk and subscription endpoints through HTTP: blocklisting, managing
list subscriptions, and the lists' subscriber counts they move.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.subscribers_support import (
    create,
    get,
    get_list,
    make_list,
    statuses,
)

# --- subscriptions and list counts ------------------------------------------------------------

async def test_subscription_statuses_follow_listmonk_rules(api: httpx.AsyncClient) -> None:
    single, double = await make_list(api, optin="single"), await make_list(api, optin="double")
    plain = await create(api, lists=[single["id"], double["id"], 999999999])
    assert statuses(plain) == {single["id"]: "unconfirmed", double["id"]: "unconfirmed"}
    confirmed = await create(api, lists=[single["id"], double["id"]],
                             preconfirm_subscriptions=True)
    assert statuses(confirmed) == {single["id"]: "confirmed", double["id"]: "confirmed"}
    blocked = await create(api, lists=[single["id"]], status="blocklisted")
    assert (blocked["status"], statuses(blocked)) == ("blocklisted",
                                                      {single["id"]: "unsubscribed"})
    counted = await get_list(api, single["id"])
    assert counted["subscriber_count"] == 3
    assert counted["subscriber_statuses"] == {"unconfirmed": 1, "confirmed": 1,
                                              "unsubscribed": 1}


async def test_blocklisting_unsubscribes_every_subscription(api: httpx.AsyncClient) -> None:
    one, two = await make_list(api), await make_list(api)
    sub = await create(api, lists=[one["id"], two["id"]], preconfirm_subscriptions=True)
    response = await api.put(f"/api/subscribers/{sub['id']}/blocklist")
    assert response.json() == {"data": True}
    after = await get(api, sub["id"])
    assert after["status"] == "blocklisted"
    assert statuses(after) == {one["id"]: "unsubscribed", two["id"]: "unsubscribed"}
    assert after["updated_at"] >= sub["updated_at"]
    assert (await get_list(api, one["id"]))["subscriber_statuses"] == {"unsubscribed": 1}
    assert (await get_list(api, one["id"]))["subscriber_count"] == 1


async def test_blocklist_many(api: httpx.AsyncClient) -> None:
    listed = await make_list(api)
    a, b = await create(api, lists=[listed["id"]]), await create(api, lists=[listed["id"]])
    response = await api.put("/api/subscribers/blocklist",
                             json={"ids": [a["id"], b["id"], 999999999]})
    assert response.json() == {"data": True}
    for sub in (a, b):
        assert (await get(api, sub["id"]))["status"] == "blocklisted"
    assert (await get_list(api, listed["id"]))["subscriber_statuses"] == {"unsubscribed": 2}
    response = await api.put("/api/subscribers/blocklist", json={"ids": []})
    assert (response.status_code, response.json()) == (
        400, {"message": "One or more IDs are invalid: ids"})


async def test_manage_lists_add_unsubscribe_remove(api: httpx.AsyncClient) -> None:
    one, two = await make_list(api), await make_list(api)
    a, b = await create(api), await create(api, lists=[one["id"]])
    ids = [a["id"], b["id"]]
    response = await api.put("/api/subscribers/lists", json={
        "ids": ids, "action": "add", "target_list_ids": [one["id"], two["id"]],
        "status": "confirmed"})
    assert response.json() == {"data": True}
    for sid in ids:
        assert statuses(await get(api, sid)) == {one["id"]: "confirmed", two["id"]: "confirmed"}
    assert (await get_list(api, one["id"]))["subscriber_statuses"] == {"confirmed": 2}

    await api.put("/api/subscribers/lists", json={
        "ids": ids, "action": "unsubscribe", "target_list_ids": [two["id"]]})
    assert statuses(await get(api, a["id"])) == {one["id"]: "confirmed",
                                                 two["id"]: "unsubscribed"}
    assert (await get_list(api, two["id"]))["subscriber_statuses"] == {"unsubscribed": 2}

    await api.put(f"/api/subscribers/lists/{a['id']}", json={
        "ids": [b["id"]], "action": "remove", "target_list_ids": [one["id"]]})
    assert statuses(await get(api, a["id"])) == {two["id"]: "unsubscribed"}
    assert statuses(await get(api, b["id"])) == {one["id"]: "confirmed",
                                                 two["id"]: "unsubscribed"}
    counted = await get_list(api, one["id"])
    assert (counted["subscriber_count"], counted["subscriber_statuses"]) == (1, {"confirmed": 1})

    # Without a status, "add" subscribes new ones unconfirmed and leaves existing ones alone.
    await api.put("/api/subscribers/lists", json={
        "ids": ids, "action": "add", "target_list_ids": [one["id"]]})
    assert statuses(await get(api, a["id"]))[one["id"]] == "unconfirmed"
    assert statuses(await get(api, b["id"]))[one["id"]] == "confirmed"


@pytest.mark.parametrize(("path", "body", "message"), [
    ("/api/subscribers/lists", {"action": "add", "target_list_ids": [1]}, "No IDs given."),
    ("/api/subscribers/lists", {"ids": [1], "action": "add"}, "No lists given."),
    ("/api/subscribers/lists", {"ids": [1], "action": "move", "target_list_ids": [1]},
     "Invalid action."),
    ("/api/subscribers/lists", {"ids": "x"},
     "One or more IDs are invalid: Unmarshal type error: expected=[]int, got=string,"
     " field=ids"),
    ("/api/subscribers/lists/0", {"ids": [1], "action": "add", "target_list_ids": [1]},
     "Invalid ID(s)"),
])
async def test_manage_lists_refusals(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], message: str
) -> None:
    response = await api.put(path, json=body)
    assert (response.status_code, response.json()) == (400, {"message": message})


async def test_deleting_a_list_drops_its_subscriptions(api: httpx.AsyncClient) -> None:
    keep, gone = await make_list(api), await make_list(api)
    sub = await create(api, lists=[keep["id"], gone["id"]])
    assert (await api.delete(f"/api/lists/{gone['id']}")).json() == {"data": True}
    assert list(statuses(await get(api, sub["id"]))) == [keep["id"]]
