"""listmonk's maintenance routes through HTTP against the real stack (fresh database): orphan
and blocklisted subscribers deleted and erased, unconfirmed double opt-in subscriptions
removed, analytics deleted before a date (rows, counters, export), listmonk's permission and
its 400s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from events.base import EventMetadata
from events.store import NO_STREAM, StreamAppend, append
from events.tracking import CampaignViewed, LinkClicked
from kernel.settings import Settings
from tests.integration.sender_support import (
    SenderStack,
    create_campaign,
    eventually,
    make_list,
    sender_stack,
    subscribe,
)
from tests.integration.users_roles_support import client_as, create_api_user, create_role


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SenderStack]:
    async with sender_stack(admin_pg_url, settings) as built:
        yield built


@pytest.fixture
async def api(stack: SenderStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def exists(api: httpx.AsyncClient, subscriber_id: int) -> bool:
    r = await api.get(f"/api/subscribers/{subscriber_id}")
    assert r.status_code in (200, 404), r.text
    return r.status_code == 200


async def test_orphan_and_blocklisted_subscribers_are_deleted_and_erased(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    lst = await make_list(api)
    kept = await subscribe(api, [lst], name="Kept One")
    orphans = [await subscribe(api, [], name=f"Orphan {i}") for i in range(3)]
    blocked = await subscribe(api, [lst], name="Blocked One", status="blocklisted")

    r = await api.delete("/api/maintenance/subscribers/orphan")
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {"count": 3}}
    for o in orphans:
        assert not await exists(api, o["id"])
        # crypto-shredded: the subscriber's data key is gone
        assert await stack.rows("SELECT 1 FROM eventlog.subscriber_keys WHERE subscriber_id = %s",
                                o["id"]) == []
    assert await exists(api, kept["id"]) and await exists(api, blocked["id"])

    r = await api.delete("/api/maintenance/subscribers/blocklisted")
    assert r.json() == {"data": {"count": 1}}
    assert not await exists(api, blocked["id"])
    assert await exists(api, kept["id"])

    # nothing left to delete
    assert (await api.delete("/api/maintenance/subscribers/orphan")).json() == {
        "data": {"count": 0}}
    r = await api.delete("/api/maintenance/subscribers/everyone")
    assert (r.status_code, r.json()) == (400, {"message": "Invalid data"})


async def test_unconfirmed_double_optin_subscriptions_before_a_date_are_removed(
        api: httpx.AsyncClient) -> None:
    double, single = await make_list(api, optin="double"), await make_list(api)
    a = await subscribe(api, [double, single], name="Ann Smith")
    b = await subscribe(api, [double], name="Bob Smith")
    confirmed = await subscribe(api, [double], name="Cid Smith",
                                preconfirm_subscriptions=True)

    past = iso(datetime.now(UTC) - timedelta(days=1))
    r = await api.delete("/api/maintenance/subscriptions/unconfirmed",
                         params={"before_date": past})
    assert r.json() == {"data": {"count": 0}}

    future = iso(datetime.now(UTC) + timedelta(minutes=5))
    r = await api.delete("/api/maintenance/subscriptions/unconfirmed",
                         params={"before_date": future})
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {"count": 2}}

    def lists_of(s: dict[str, Any]) -> dict[int, str]:
        return {int(x["id"]): x["subscription_status"] for x in s["lists"]}

    got = {s["id"]: lists_of((await api.get(f"/api/subscribers/{s['id']}")).json()["data"])
           for s in (a, b, confirmed)}
    assert got[a["id"]] == {single: "unconfirmed"}  # single opt-in: kept, as listmonk
    assert got[b["id"]] == {}
    assert got[confirmed["id"]] == {double: "confirmed"}


@pytest.mark.parametrize("path", [
    "/api/maintenance/subscriptions/unconfirmed", "/api/maintenance/analytics/views"])
@pytest.mark.parametrize("value", ["", "2024-01-01", "2024-01-01 10:00:00Z",
                                   "2024-13-01T00:00:00Z", "yesterday"])
async def test_a_bad_before_date_is_400(api: httpx.AsyncClient, path: str, value: str) -> None:
    r = await api.delete(path, params={"before_date": value} if value else None)
    assert (r.status_code, r.json()) == (400, {"message": "Invalid data"})


async def test_maintenance_needs_settings_maintain(stack: SenderStack,
                                                   api: httpx.AsyncClient) -> None:
    orphan = await subscribe(api, [], name="Orphan Guarded")
    weak = await create_api_user(api, await create_role(api, "subscribers:manage",
                                                        "settings:manage"))
    strong = await create_api_user(api, await create_role(api, "settings:maintain"))
    async with client_as(stack.app, weak) as client:
        for method, path in [("DELETE", "/api/maintenance/subscribers/orphan"),
                             ("DELETE", "/api/maintenance/subscriptions/unconfirmed"
                                        "?before_date=2024-01-01T00:00:00Z"),
                             ("DELETE", "/api/maintenance/analytics/all"
                                        "?before_date=2024-01-01T00:00:00Z"),
                             ("GET", "/api/maintenance/analytics/views/export"
                                     "?since=2024-01-01T00:00:00Z")]:
            r = await client.request(method, path)
            assert r.status_code == 403, (path, r.text)
    assert await exists(api, orphan["id"])
    async with client_as(stack.app, strong) as client:
        r = await client.delete("/api/maintenance/subscribers/orphan")
        assert r.status_code == 200 and r.json()["data"]["count"] >= 1
    assert not await exists(api, orphan["id"])


T0 = datetime(2024, 3, 1, 8, 10, tzinfo=UTC)


async def record(stack: SenderStack, *events: Any) -> None:
    async with stack.runtime.pool.connection() as conn, conn.transaction():
        await append(conn, [StreamAppend(f"tracking-test-{id(e)}-{i}", NO_STREAM, [e])
                            for i, e in enumerate(events)], EventMetadata(actor="test"))


async def analytics(api: httpx.AsyncClient, kind: str, campaign_id: int) -> dict[str, int]:
    r = await api.get(f"/api/campaigns/analytics/{kind}", params={
        "id": campaign_id, "from": "2024-03-01 00:00:00", "to": "2024-03-02 00:00:00"})
    assert r.status_code == 200, r.text
    return {row["timestamp"][11:13]: row["count"] for row in r.json()["data"] if row["count"]}


async def export(api: httpx.AsyncClient, kind: str) -> list[str]:
    r = await api.get(f"/api/maintenance/analytics/{kind}/export",
                      params={"since": "2024-03-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return r.text.strip().splitlines()


async def test_analytics_before_a_date_are_deleted_with_their_counts(
        stack: SenderStack, api: httpx.AsyncClient) -> None:
    lst = await make_list(api)
    sub = await subscribe(api, [lst], name="Viewer One")
    camp = await create_campaign(api, [lst], name="Pruned campaign")
    cid, sid = int(camp["id"]), int(sub["id"])
    link = 4242
    await stack.execute("INSERT INTO readmodel.links (id, uuid, url, created_at) VALUES"
                        " (%s, gen_random_uuid(), 'https://example.com/x', now())", link)
    h = timedelta(hours=1)
    await record(stack,
                 CampaignViewed(campaign_id=cid, subscriber_id=sid, count=3, at=T0),
                 CampaignViewed(campaign_id=cid, subscriber_id=sid, count=2, at=T0 + 2 * h),
                 CampaignViewed(campaign_id=cid, count=1, at=T0 + 2 * h + timedelta(minutes=40)),
                 CampaignViewed(campaign_id=cid, count=4, at=T0 + 4 * h),
                 LinkClicked(campaign_id=cid, link_id=link, subscriber_id=sid, count=5, at=T0),
                 LinkClicked(campaign_id=cid, link_id=link, count=1, at=T0 + 4 * h))

    async def recorded() -> bool:
        return len(await export(api, "views")) == 5 and len(await export(api, "clicks")) == 3
    await eventually(recorded)
    assert await analytics(api, "views", cid) == {"08": 3, "10": 3, "12": 4}
    views = await export(api, "views")
    assert views[0] == ("campaign_id,campaign_uuid,campaign_name,subscriber_id,subscriber_uuid,"
                        "email,subscriber_name,created_at")
    assert views[1] == (f"{cid},{camp['uuid']},Pruned campaign,{sid},{sub['uuid']},"
                        f"{sub['email']},Viewer One,2024-03-01T08:10:00Z")
    assert views[4].startswith(f"{cid},{camp['uuid']},Pruned campaign,0,,,,")

    # views before 10:30: the 08:10 row and the 10:10 row go; 10:50 and 12:10 stay
    before = iso(T0 + 2 * h + timedelta(minutes=20))
    r = await api.delete("/api/maintenance/analytics/views", params={"before_date": before})
    assert (r.status_code, r.json()) == (200, {"data": True})
    assert await analytics(api, "views", cid) == {"10": 1, "12": 4}
    assert [line.rsplit(",", 1)[1] for line in (await export(api, "views"))[1:]] == [
        "2024-03-01T10:50:00Z", "2024-03-01T12:10:00Z"]
    assert len(await export(api, "clicks")) == 3  # clicks untouched

    r = await api.delete("/api/maintenance/analytics/all", params={"before_date": before})
    assert r.json() == {"data": True}
    assert await analytics(api, "clicks", cid) == {"12": 1}
    clicks = await export(api, "clicks")
    assert len(clicks) == 2 and clicks[1].endswith(",https://example.com/x,2024-03-01T12:10:00Z")

    r = await api.delete("/api/maintenance/analytics/links", params={"before_date": before})
    assert (r.status_code, r.json()) == (400, {"message": "Invalid data"})
    r = await api.get("/api/maintenance/analytics/views/export", params={"since": "bad"})
    assert (r.status_code, r.json()) == (400, {"message": "Invalid data"})
