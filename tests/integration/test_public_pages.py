"""The subscriber pages that e-mail links lead to, through HTTP and without credentials:
opt-in confirmation, unsubscribe (one click, blocklist), preferences, data export and erasure.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from events.crypto import load_keys
from services.runtime import Runtime
from tests.integration.subscribers_support import (
    create,
    get,
    make_list,
    scalar,
    statuses,
    unique_email,
)
from tests.integration.test_public_subscription import FormPage

DUMMY_CAMPAIGN = "00000000-0000-0000-0000-000000000000"


async def sign_up(anon: httpx.AsyncClient, api: httpx.AsyncClient, *lists: dict[str, Any],
                  email: str | None = None, name: str = "Pat Page") -> dict[str, Any]:
    """A subscriber made through the public API, as the admin API shows it."""
    email = email or unique_email("page")
    response = await anon.post("/api/public/subscription", json={
        "email": email, "name": name, "list_uuids": [item["uuid"] for item in lists]})
    assert response.status_code == 200, response.text
    found = await api.get("/api/subscribers",
                          params={"query": f"subscribers.email = '{email}'"})
    [subscriber] = found.json()["data"]["results"]
    return dict(subscriber)


async def make_campaign(api: httpx.AsyncClient, *lists: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/api/campaigns", json={
        "name": f"c-{uuid.uuid4().hex[:6]}", "subject": "Hello",
        "lists": [item["id"] for item in lists], "body": "<p>hi</p>"})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


# --- opt-in -----------------------------------------------------------------------------------

async def test_optin_page_confirms_pending_subscriptions(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    double = await make_list(api, type="public", optin="double")
    single = await make_list(api, type="public", optin="single")
    sub = await sign_up(anon, api, double, single)
    url = f"/subscription/optin/{sub['uuid']}"

    page = await anon.get(url)
    assert page.status_code == 200
    assert page.headers["x-robots-tag"] == "noindex"
    parsed = FormPage(page.text)
    assert {double["name"], single["name"]} <= set(parsed.text)
    assert "Confirm subscription" in parsed.text
    assert statuses(await get(api, sub["id"])) == {double["id"]: "unconfirmed",
                                                   single["id"]: "unconfirmed"}

    # Only the list named in ?l= / l is confirmed.
    filtered = await anon.get(url, params={"l": double["uuid"]})
    assert [i["value"] for i in FormPage(filtered.text).inputs if i.get("name") == "l"] == [
        double["uuid"]]
    done = await anon.post(url, data={"l": double["uuid"], "confirm": "true"})
    assert done.status_code == 200
    assert "Subscription confirmed" in FormPage(done.text).text
    assert statuses(await get(api, sub["id"])) == {double["id"]: "confirmed",
                                                   single["id"]: "unconfirmed"}

    # Without l every pending one is confirmed; then there is nothing left.
    await anon.post(url, data={"confirm": "true"})
    assert set(statuses(await get(api, sub["id"])).values()) == {"confirmed"}
    nothing = await anon.get(url)
    assert nothing.status_code == 200
    assert "Nothing to confirm" in FormPage(nothing.text).text


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_bad_and_unknown_subscriber_uuids(anon: httpx.AsyncClient, method: str) -> None:
    for path, status in ((f"/subscription/optin/{uuid.uuid4()}", 404),
                         ("/subscription/optin/not-a-uuid", 400),
                         (f"/subscription/{DUMMY_CAMPAIGN}/{uuid.uuid4()}", 404),
                         (f"/subscription/nope/{uuid.uuid4()}", 400)):
        response = await anon.request(method, path)
        assert response.status_code == status, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
    for path in (f"/subscription/export/{uuid.uuid4()}", f"/subscription/wipe/{uuid.uuid4()}"):
        assert (await anon.post(path)).status_code == 404


# --- unsubscribe and preferences --------------------------------------------------------------

async def test_one_click_unsubscribes_from_the_campaigns_lists(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    news = await make_list(api, type="public")
    other = await make_list(api, type="public")
    sub = await sign_up(anon, api, news, other)
    campaign = await make_campaign(api, news)
    url = f"/subscription/{campaign['uuid']}/{sub['uuid']}"

    page = await anon.get(url)
    assert page.status_code == 200
    assert "Unsubscribe" in FormPage(page.text).text

    response = await anon.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You have been unsubscribed." in FormPage(response.text).text
    after = await get(api, sub["id"])
    assert after["status"] == "enabled"
    assert statuses(after) == {news["id"]: "unsubscribed", other["id"]: "unconfirmed"}


async def test_unknown_campaign_unsubscribes_nothing(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    listed = await make_list(api, type="public")
    sub = await sign_up(anon, api, listed)
    response = await anon.post(f"/subscription/{DUMMY_CAMPAIGN}/{sub['uuid']}")
    assert response.status_code == 200
    assert statuses(await get(api, sub["id"])) == {listed["id"]: "unconfirmed"}


async def test_blocklist_unsubscribes_from_everything(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    one, two = await make_list(api, type="public"), await make_list(api, type="public")
    sub = await sign_up(anon, api, one, two)
    url = f"/subscription/{DUMMY_CAMPAIGN}/{sub['uuid']}"
    response = await anon.post(url, data={"blocklist": "true"})
    assert response.status_code == 200
    after = await get(api, sub["id"])
    assert after["status"] == "blocklisted"
    assert set(statuses(after).values()) == {"unsubscribed"}
    page = await anon.get(url)
    assert "You are unsubscribed from all our e-mails." in FormPage(page.text).text


async def test_preferences_save_the_name_and_unticked_lists(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    kept = await make_list(api, type="public")
    dropped = await make_list(api, type="public")
    private = await make_list(api, type="private")
    sub = await sign_up(anon, api, kept, dropped, name="Old <Name>")
    await api.put("/api/subscribers/lists", json={
        "ids": [sub["id"]], "action": "add", "target_list_ids": [private["id"]]})
    url = f"/subscription/{DUMMY_CAMPAIGN}/{sub['uuid']}"

    page = await anon.get(url, params={"manage": "true"})
    parsed = FormPage(page.text)
    assert parsed.checkbox_values("l") == [kept["uuid"], dropped["uuid"]]  # private not shown
    [name_input] = [i for i in parsed.inputs if i.get("name") == "name"]
    assert name_input["value"] == "Old <Name>"
    assert "&lt;Name&gt;" in page.text

    response = await anon.post(url, data={"manage": "true", "name": " New Name ",
                                          "l": [kept["uuid"]]})
    assert response.status_code == 200
    assert "Preferences saved" in FormPage(response.text).text
    after = await get(api, sub["id"])
    assert after["name"] == "New Name"
    assert statuses(after) == {kept["id"]: "unconfirmed", dropped["id"]: "unsubscribed",
                               private["id"]: "unconfirmed"}

    empty = await anon.post(url, data={"manage": "true", "name": "  "})
    assert empty.status_code == 400
    assert (await get(api, sub["id"]))["name"] == "New Name"


# --- export and erasure -----------------------------------------------------------------------

async def test_export_downloads_the_subscribers_data(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    public = await make_list(api, type="public")
    private = await make_list(api, type="private")
    sub = await create(api, email=unique_email("export"), name="Ex Port",
                       attribs={"city": "Lisbon"}, lists=[public["id"], private["id"]])
    response = await anon.post(f"/subscription/export/{sub['uuid']}")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="data.json"'
    data = response.json()
    assert list(data) == ["profile", "subscriptions", "campaign_views", "link_clicks"]
    [profile] = data["profile"]
    assert (profile["email"], profile["name"], profile["attribs"], profile["uuid"]) == (
        sub["email"], "Ex Port", {"city": "Lisbon"}, sub["uuid"])
    assert [(s["name"], s["type"], s["subscription_status"]) for s in data["subscriptions"]] == [
        (public["name"], "public", "unconfirmed"), ("Private list", "private", "unconfirmed")]


async def test_wipe_erases_the_subscriber(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, runtime: Runtime
) -> None:
    listed = await make_list(api, type="public", optin="double")
    email, name = unique_email("wipe"), f"Wendy Wipe{uuid.uuid4().hex[:6]}"
    sub = await sign_up(anon, api, listed, email=email, name=name)
    assert await scalar(runtime, "SELECT count(*) FROM eventlog.events WHERE stream_id = %s",
                        f"subscriber-{sub['id']}") >= 2

    response = await anon.post(f"/subscription/wipe/{sub['uuid']}")
    assert response.status_code == 200
    assert "Data deleted" in FormPage(response.text).text
    assert (await api.get(f"/api/subscribers/{sub['id']}")).status_code == 404
    assert (await anon.get(f"/subscription/optin/{sub['uuid']}")).status_code == 404
    for secret in (email, name):
        assert await scalar(runtime, "SELECT count(*) FROM eventlog.events"
                            " WHERE data::text ILIKE %s", f"%{secret}%") == 0
    assert await scalar(runtime, "SELECT count(*) FROM eventlog.events WHERE stream_id = %s"
                        " AND type = 'subscriber.deleted'", f"subscriber-{sub['id']}") == 1
    assert await scalar(runtime, "SELECT count(*) FROM eventlog.subscriber_emails"
                        " WHERE subscriber_id = %s", sub["id"]) == 0
    async with runtime.pool.connection() as conn:
        assert await load_keys(conn, [sub["id"]]) == {}

    # The e-mail can sign up again, as a new subscriber.
    again = await sign_up(anon, api, listed, email=email)
    assert again["id"] != sub["id"]
