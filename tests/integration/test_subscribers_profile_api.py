"""One subscriber's privacy export, bounces and activity through HTTP.

Bounce processing does not exist yet, so the tests record bounces by appending
``subscriber.bounce_recorded`` to the log as it will (meta sealed with the subscriber's key).
"""

from __future__ import annotations

import json

import httpx

from services.runtime import Runtime
from tests.integration.bounces_support import record_bounce
from tests.integration.subscribers_support import (
    create,
    event_count,
    make_list,
    scalar,
)

EXPORT_KEYS = ["profile", "subscriptions", "campaign_views", "link_clicks"]


async def test_the_privacy_export_masks_private_lists(api: httpx.AsyncClient) -> None:
    public = await make_list(api, type="public", name="Newsletter")
    private = await make_list(api, type="private", name="Secret VIPs")
    sub = await create(api, name="John Doe", lists=[public["id"], private["id"]],
                       attribs={"city": "Bengaluru", "good": True, "note": "<b>&"})
    response = await api.get(f"/api/subscribers/{sub['id']}/export")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="data.json"'
    assert response.headers["cache-control"] == "no-cache"
    assert response.text.startswith('{\n  "profile": [\n    {\n      "id": ')
    assert "\\u003cb\\u003e\\u0026" in response.text  # Go escapes HTML characters
    data = response.json()
    assert list(data) == EXPORT_KEYS
    [profile] = data["profile"]
    assert profile == {k: sub[k] for k in ("id", "uuid", "email", "name", "attribs", "status",
                                           "created_at", "updated_at")}
    assert list(profile) == ["id", "uuid", "email", "name", "attribs", "status", "created_at",
                             "updated_at"]
    assert data["subscriptions"] == [
        {"subscription_status": "unconfirmed", "name": "Newsletter", "type": "public",
         "created_at": sub["lists"][0]["subscription_created_at"]},
        {"subscription_status": "unconfirmed", "name": "Private list", "type": "private",
         "created_at": sub["lists"][1]["subscription_created_at"]},
    ]
    assert (data["campaign_views"], data["link_clicks"]) == ([], [])
    assert "Secret VIPs" not in response.text


async def test_exporting_an_unknown_subscriber_gives_an_empty_profile(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/api/subscribers/999999999/export")
    assert response.status_code == 200
    assert json.loads(response.text) == {"profile": {}, "subscriptions": [],
                                         "campaign_views": [], "link_clicks": []}
    assert (await api.get("/api/subscribers/0/export")).status_code == 400


async def test_activity_is_empty_until_tracking_exists(api: httpx.AsyncClient) -> None:
    sub = await create(api)
    response = await api.get(f"/api/subscribers/{sub['id']}/activity")
    assert response.json() == {"data": {"campaign_views": [], "link_clicks": []}}


async def test_bounces_are_listed_newest_first_and_deleted(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    sub = await create(api, name="Thomas Hobbes")
    assert (await api.get(f"/api/subscribers/{sub['id']}/bounces")).json() == {"data": []}
    older = await record_bounce(runtime, sub["id"], kind="soft", minutes_ago=5)
    newer = await record_bounce(runtime, sub["id"], campaign_id=987654321)
    data = (await api.get(f"/api/subscribers/{sub['id']}/bounces")).json()["data"]
    assert [b["id"] for b in data] == [newer, older]
    assert list(data[0]) == ["id", "type", "source", "meta", "created_at", "email",
                             "subscriber_uuid", "subscriber_id", "subscriber_status", "campaign"]
    assert {k: data[0][k] for k in ("type", "source", "meta", "email", "subscriber_uuid",
                                    "subscriber_id", "subscriber_status", "campaign")} == {
        "type": "hard", "source": "demo", "meta": {"some": "parameter"},
        "email": sub["email"], "subscriber_uuid": sub["uuid"], "subscriber_id": sub["id"],
        "subscriber_status": "enabled", "campaign": {"id": 987654321, "name": None}}
    assert (data[1]["type"], data[1]["campaign"]) == ("soft", None)

    response = await api.delete(f"/api/subscribers/{sub['id']}/bounces")
    assert (response.status_code, response.json()) == (200, {"data": True})
    assert (await api.get(f"/api/subscribers/{sub['id']}/bounces")).json() == {"data": []}
    before = await event_count(runtime)  # nothing left to delete: nothing recorded
    response = await api.delete(f"/api/subscribers/{sub['id']}/bounces")
    assert response.json() == {"data": True} and await event_count(runtime) == before
    response = await api.delete("/api/subscribers/999999999/bounces")
    assert response.json() == {"data": True} and await event_count(runtime) == before


async def test_deleting_a_subscriber_deletes_its_bounces(
    api: httpx.AsyncClient, runtime: Runtime
) -> None:
    sub = await create(api)
    await record_bounce(runtime, sub["id"])
    assert (await api.delete(f"/api/subscribers/{sub['id']}")).json() == {"data": True}
    assert await scalar(runtime, "SELECT count(*) FROM readmodel.bounces"
                        " WHERE subscriber_id = %s", sub["id"]) == 0
