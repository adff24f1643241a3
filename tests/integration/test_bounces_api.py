"""The bounces API through HTTP, on a postlog of its own (bounce settings are global):
``POST /webhooks/bounce``, ``GET /api/bounces`` (paging, filters, order), one bounce, deleting
one, some or all, blocklisting the bounced, and the bounce rules at listmonk's defaults and
with the other actions, each leaving its reason in the log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kernel.settings import Settings
from services.command_api.bounces.intake import BounceInput, record_bounces
from tests.integration.bounces_support import (
    configure,
    event_total,
    new_campaign,
    new_list,
    new_subscriber,
    stream_events,
    stream_types,
)
from tests.integration.settings_support import SettingsStack, settings_stack
from tests.integration.subscribers_support import eventually

DEFAULT_ACTIONS = {"soft": {"count": 2, "action": "none"},
                   "hard": {"count": 1, "action": "blocklist"},
                   "complaint": {"count": 1, "action": "blocklist"}}
T0 = datetime(2024, 8, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    async with settings_stack(admin_pg_url, settings) as own:
        await configure(own, bounce_enabled=True, bounce_webhooks_enabled=True)
        yield own


@pytest.fixture
async def api(stack: SettingsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


async def bounce(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    body.setdefault("type", "soft")
    body.setdefault("source", "api")
    response = await api.post("/webhooks/bounce", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": True}
    return response


async def listing(api: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await api.get("/api/bounces", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def source() -> str:
    return f"src-{uuid.uuid4().hex[:8]}"


async def test_recorded_bounces_are_listed_paged_filtered_and_ordered(
        api: httpx.AsyncClient) -> None:
    list_id = await new_list(api)
    first = await new_campaign(api, list_id, "Alpha")
    second = await new_campaign(api, list_id, "Beta")
    subs = [await new_subscriber(api, email=f"{p}.{uuid.uuid4().hex[:6]}@example.com")
            for p in ("carol", "alice", "bob")]
    src = source()
    for i, (sub, camp) in enumerate(zip(subs, (first, second, None), strict=True)):
        await bounce(api, email=sub["email"].upper(), source=src,
                     campaign_uuid=camp["uuid"] if camp else "",
                     meta={"n": i}, created_at=(T0 + timedelta(minutes=i)).isoformat())

    page = await listing(api, source=src)
    assert page["total"] == 3 and (page["page"], page["per_page"]) == (1, 20)
    assert [r["meta"] for r in page["results"]] == [{"n": 2}, {"n": 1}, {"n": 0}]
    newest = page["results"][0]
    assert set(newest) == {"id", "type", "source", "meta", "created_at", "email",
                           "subscriber_uuid", "subscriber_id", "subscriber_status", "campaign"}
    assert (newest["email"], newest["subscriber_uuid"], newest["subscriber_id"]) == (
        subs[2]["email"], subs[2]["uuid"], subs[2]["id"])
    assert newest["campaign"] is None and newest["subscriber_status"] == "enabled"
    assert page["results"][1]["campaign"] == {"id": second["id"], "name": "Beta"}

    second_page = await listing(api, source=src, per_page=2, page=2)
    assert (second_page["total"], second_page["page"], second_page["per_page"]) == (3, 2, 2)
    assert [r["meta"] for r in second_page["results"]] == [{"n": 0}]
    by_email = await listing(api, source=src, order_by="email", order="asc")
    assert [r["email"].split(".")[0] for r in by_email["results"]] == ["alice", "bob", "carol"]
    by_campaign = await listing(api, source=src, order_by="campaign_name", order="asc")
    assert [r["campaign"]["name"] if r["campaign"] else None
            for r in by_campaign["results"]] == ["Alpha", "Beta", None]
    oldest_first = await listing(api, source=src, order="asc")
    assert [r["meta"]["n"] for r in oldest_first["results"]] == [0, 1, 2]

    of_campaign = await listing(api, campaign_id=first["id"])
    assert [r["subscriber_id"] for r in of_campaign["results"]] == [subs[0]["id"]]
    assert await listing(api, source="nothing-" + src) == {
        "results": [], "search": "", "query": "", "total": 0, "per_page": 0, "page": 0}

    one = (await api.get(f"/api/bounces/{newest['id']}")).json()["data"]
    assert one == newest
    missing = await api.get("/api/bounces/999999999")
    assert (missing.status_code, missing.json()) == (400, {"message": "Bounce not found"})
    assert (await api.get("/api/bounces/abc")).status_code == 400
    of_subscriber = (await api.get(f"/api/subscribers/{subs[0]['id']}/bounces")).json()
    assert [b["id"] for b in of_subscriber["data"]] == [page["results"][2]["id"]]


async def test_deleting_one_some_and_all_bounces(stack: SettingsStack,
                                                 api: httpx.AsyncClient) -> None:
    subs = [await new_subscriber(api) for _ in range(3)]
    src = source()
    for sub in subs:
        await bounce(api, email=sub["email"], source=src)
    ids = [r["id"] for r in (await listing(api, source=src, order="asc"))["results"]]
    assert len(ids) == 3

    deleted = await api.delete(f"/api/bounces/{ids[0]}")
    assert (deleted.status_code, deleted.json()) == (200, {"data": True})
    assert [r["id"] for r in (await listing(api, source=src, order="asc"))["results"]] == ids[1:]
    assert "subscriber.bounces_removed" in await stream_types(stack, subs[0]["id"])

    before = await event_total(stack)
    again = await api.delete(f"/api/bounces/{ids[0]}")  # gone already: true, nothing recorded
    assert (again.status_code, again.json()) == (200, {"data": True})
    assert await event_total(stack) == before
    for bad in ("?id=abc", "?id=0", ""):
        refused = await api.delete(f"/api/bounces{bad}")
        assert (refused.status_code, refused.json()) == (400, {"message": "Invalid ID(s)"})

    some = await api.delete("/api/bounces", params=[("id", ids[1]), ("id", ids[2])])
    assert some.json() == {"data": True}
    assert (await listing(api, source=src))["total"] == 0

    others = [await new_subscriber(api) for _ in range(2)]
    for sub in others:
        await bounce(api, email=sub["email"], source=src)
    by_subscriber = await api.delete(f"/api/subscribers/{others[0]['id']}/bounces")
    assert by_subscriber.json() == {"data": True}
    assert (await listing(api, source=src))["total"] == 1
    everything = await api.delete("/api/bounces", params={"all": "true"})
    assert everything.json() == {"data": True}
    assert (await listing(api))["total"] == 0
    assert "subscriber.bounces_deleted" in await stream_types(stack, others[1]["id"])


async def test_blocklisting_the_bounced_subscribers(stack: SettingsStack,
                                                   api: httpx.AsyncClient) -> None:
    await api.delete("/api/bounces", params={"all": "true"})
    list_id = await new_list(api)
    bounced = await new_subscriber(api, lists=[list_id], preconfirm_subscriptions=True)
    clean = await new_subscriber(api, lists=[list_id], preconfirm_subscriptions=True)
    await bounce(api, subscriber_uuid=bounced["uuid"], type="soft")

    response = await api.put("/api/bounces/blocklist")
    assert (response.status_code, response.json()) == (200, {"data": True})
    after = (await api.get(f"/api/subscribers/{bounced['id']}")).json()["data"]
    assert after["status"] == "blocklisted"
    assert [s["subscription_status"] for s in after["lists"]] == ["unsubscribed"]
    untouched = (await api.get(f"/api/subscribers/{clean['id']}")).json()["data"]
    assert untouched["status"] == "enabled"
    [cause] = await stream_events(stack, bounced["id"], "subscriber.bounce_action_applied")
    assert (cause["rule"], cause["action"], cause["count"]) == ("blocklist_bounced",
                                                                "blocklist", 1)
    types = await stream_types(stack, bounced["id"])
    assert types.index("subscriber.bounce_action_applied") < types.index(
        "subscriber.status_changed")


async def test_default_rules_two_soft_change_nothing_one_hard_or_complaint_blocklists(
        stack: SettingsStack, api: httpx.AsyncClient) -> None:
    list_id = await new_list(api)
    soft = await new_subscriber(api, lists=[list_id], preconfirm_subscriptions=True)
    for _ in range(3):
        await bounce(api, email=soft["email"], type="soft")
    soft_after = (await api.get(f"/api/subscribers/{soft['id']}")).json()["data"]
    assert soft_after["status"] == "enabled"
    # listmonk records a kind's bounces up to its count: the third soft one is not kept
    kept = (await api.get(f"/api/subscribers/{soft['id']}/bounces")).json()["data"]
    assert [b["type"] for b in kept] == ["soft", "soft"]

    for kind in ("hard", "complaint"):
        sub = await new_subscriber(api, lists=[list_id], preconfirm_subscriptions=True)
        await bounce(api, email=sub["email"], type=kind, source="ses")
        after = (await api.get(f"/api/subscribers/{sub['id']}")).json()["data"]
        assert after["status"] == "blocklisted"
        # as listmonk's record-bounce: the status only; the subscriptions stay
        assert [s["subscription_status"] for s in after["lists"]] == ["confirmed"]
        [bounced] = (await api.get(f"/api/subscribers/{sub['id']}/bounces")).json()["data"]
        assert (bounced["type"], bounced["subscriber_status"]) == (kind, "blocklisted")
        types = await stream_types(stack, sub["id"])
        assert types[-3:] == ["subscriber.bounce_recorded", "subscriber.bounce_action_applied",
                              "subscriber.status_changed"]
        [cause] = await stream_events(stack, sub["id"], "subscriber.bounce_action_applied")
        assert (cause["rule"], cause["action"], cause["kind"], cause["bounce_id"],
                cause["count"], cause["threshold"]) == (
            "bounce_actions", "blocklist", kind, bounced["id"], 1, 1)
        assert f"{kind} bounce(s) reached the bounce.actions threshold of 1" in cause["reason"]


async def test_unsubscribe_and_delete_rules_when_configured(stack: SettingsStack,
                                                            api: httpx.AsyncClient) -> None:
    await configure(stack, bounce_actions={
        **DEFAULT_ACTIONS, "hard": {"count": 1, "action": "unsubscribe"},
        "complaint": {"count": 1, "action": "delete"}})
    try:
        list_id = await new_list(api)
        sub = await new_subscriber(api, lists=[list_id], preconfirm_subscriptions=True)
        await bounce(api, email=sub["email"], type="hard")
        after = (await api.get(f"/api/subscribers/{sub['id']}")).json()["data"]
        assert after["status"] == "enabled"
        assert [s["subscription_status"] for s in after["lists"]] == ["unsubscribed"]
        [cause] = await stream_events(stack, sub["id"], "subscriber.bounce_action_applied")
        assert cause["action"] == "unsubscribe"

        doomed = await new_subscriber(api, lists=[list_id])
        await bounce(api, email=doomed["email"], type="complaint", meta={"to": doomed["email"]})
        assert (await api.get(f"/api/subscribers/{doomed['id']}")).status_code == 404
        types = await stream_types(stack, doomed["id"])
        assert types[-4:] == ["subscriber.bounce_recorded", "subscriber.bounce_action_applied",
                              "subscriber.removed_from_lists", "subscriber.deleted"]
        # erased: the key is gone, so the sealed meta can no longer be read
        keys = await stack.rows("SELECT count(*) FROM eventlog.subscriber_keys"
                                " WHERE subscriber_id = %s", doomed["id"])
        assert keys == [(0,)]
        assert (await api.get(f"/api/subscribers/{doomed['id']}/bounces")).json()[
            "data"] == []
        # its e-mail is free again: a new subscriber may take it
        assert (await new_subscriber(api, email=doomed["email"]))["email"] == doomed["email"]
    finally:
        await configure(stack, bounce_actions=DEFAULT_ACTIONS)


async def test_the_native_webhook_checks_its_input_and_records_nothing_hostile(
        stack: SettingsStack, api: httpx.AsyncClient) -> None:
    sub = await new_subscriber(api)
    before = await event_total(stack)
    refused = {
        "Invalid fields: email / subscriber_uuid": {"type": "soft"},
        "Invalid fields: subscriber_uuid": {"subscriber_uuid": "nope", "type": "soft"},
        "Invalid fields: type": {"email": sub["email"], "type": "bouncy"},
        "Invalid email.": {"email": "not an address", "type": "soft"},
    }
    for message, body in refused.items():
        response = await api.post("/webhooks/bounce", json=body)
        assert (response.status_code, response.json()) == (400, {"message": message}), body
    hostile = [
        {"email": sub["email"], "type": "soft", "source": "a\x00b"},
        {"email": sub["email"], "type": "soft", "meta": {"k": "\x00"}},
        {"email": sub["email"], "type": "soft", "meta": {"k\x00": 1}},
        {"email": sub["email"], "type": "soft", "meta": {"k": "x" * 400_000}},
        {"email": sub["email"], "type": "soft", "source": "s" * 5000},
        {"email": sub["email"], "type": "soft", "created_at": "yesterday"},
        {"email": sub["email"], "type": 3},
    ]
    for body in hostile:
        response = await api.post("/webhooks/bounce", json=body)
        assert response.status_code in (400, 413), (body, response.text)
    deep: Any = {}
    for _ in range(100):
        deep = {"k": deep}
    too_deep = await api.post("/webhooks/bounce", json={"email": sub["email"], "type": "soft",
                                                        "meta": deep})
    assert too_deep.status_code == 400
    assert (await api.post("/webhooks/bounce", content=b"{not json")).status_code == 400
    assert await event_total(stack) == before

    # an unknown subscriber is accepted (as listmonk) and records nothing
    await bounce(api, email="nobody@example.com")
    await bounce(api, subscriber_uuid=str(uuid.uuid4()))
    assert await event_total(stack) == before
    async with stack.client(anonymous=True) as anon:
        assert (await anon.post("/webhooks/bounce", json={"email": sub["email"],
                                                         "type": "soft"})).status_code in (
            401, 403)
    assert await event_total(stack) == before

    # meta is any JSON value, kept as sent
    await bounce(api, email=sub["email"], meta='{"escaped": "json"}')
    [kept] = (await api.get(f"/api/subscribers/{sub['id']}/bounces")).json()["data"]
    assert kept["meta"] == '{"escaped": "json"}'


async def test_webhooks_follow_the_bounce_settings(stack: SettingsStack,
                                                   api: httpx.AsyncClient) -> None:
    sub = await new_subscriber(api)
    body = {"email": sub["email"], "type": "soft"}
    try:
        await configure(stack, bounce_enabled=False)
        off = await api.post("/webhooks/bounce", json=body)
        assert (off.status_code, off.json()) == (503, {"message": "Internal server error"})
        await configure(stack, bounce_webhooks_enabled=False)
        assert (await api.post("/webhooks/bounce", json=body)).status_code == 404
        assert (await api.post("/webhooks/service/ses", content=b"{}")).status_code == 404
    finally:
        await configure(stack, bounce_enabled=True, bounce_webhooks_enabled=True)
    unknown = await api.post("/webhooks/service/ses", content=b"{}")
    assert (unknown.status_code, unknown.json()) == (400, {"message": "Unknown service."})
    assert (await api.post("/webhooks/service/mailgun", content=b"{}")).status_code == 400


async def test_record_bounces_for_the_mailbox_scanner_records_each_on_its_own(
        stack: SettingsStack, api: httpx.AsyncClient) -> None:
    by_email, by_uuid = await new_subscriber(api), await new_subscriber(api)
    campaign = await new_campaign(api, await new_list(api), "Scanned")
    bounces = [
        BounceInput(kind="soft", source="pop", email=by_email["email"],
                    campaign_uuid=campaign["uuid"], meta={"subject": "Undelivered"}),
        BounceInput(kind="bogus", source="pop", email=by_email["email"]),  # type: ignore[arg-type]
        BounceInput(kind="soft", source="pop", email="nobody@example.com"),
        BounceInput(kind="soft", source="pop\x00", email=by_email["email"]),
        BounceInput(kind="hard", source="imap", subscriber_uuid=by_uuid["uuid"].upper(),
                    meta={"body": "\x00 hostile"}, created_at=T0),
    ]
    assert await record_bounces(stack.runtime.pool, stack.settings, bounces,
                                actor="bounce-mailbox") == 2
    async def of(sub: dict[str, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await api.get(
            f"/api/subscribers/{sub['id']}/bounces")).json()["data"]
        return found

    # recorded, not waited for: the scanner does not need the read model to have them
    await eventually(lambda: _both(of(by_email), of(by_uuid)))
    [first] = await of(by_email)
    assert (first["source"], first["campaign"]["name"], first["meta"]) == (
        "pop", "Scanned", {"subject": "Undelivered"})
    [second] = await of(by_uuid)
    assert (second["type"], second["created_at"][:19]) == ("hard", "2024-08-20T10:00:00")
    assert second["meta"] == {"postlog": "meta dropped: invalid meta: it contains a NUL"
                                         " character (U+0000)"}
    actors = await stack.rows("SELECT DISTINCT metadata->>'actor' FROM eventlog.events"
                              " WHERE stream_id = %s AND type = 'subscriber.bounce_recorded'",
                              f"subscriber-{by_uuid['id']}")
    assert actors == [("bounce-mailbox",)]


async def _both(*reads: Awaitable[list[dict[str, Any]]]) -> bool:
    return all([bool(await read) for read in reads])


async def test_an_idempotency_key_records_a_webhook_bounce_once(api: httpx.AsyncClient) -> None:
    sub = await new_subscriber(api)
    key = {"Idempotency-Key": f"bounce-{uuid.uuid4().hex}"}
    body = {"email": sub["email"], "type": "soft", "source": "api"}
    for _ in range(2):
        response = await api.post("/webhooks/bounce", json=body, headers=key)
        assert (response.status_code, response.json()) == (200, {"data": True})
    assert len((await api.get(f"/api/subscribers/{sub['id']}/bounces")).json()["data"]) == 1
    other = await api.post("/webhooks/bounce", json={**body, "type": "hard"}, headers=key)
    assert other.status_code == 422
