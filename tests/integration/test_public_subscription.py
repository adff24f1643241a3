"""Public sign-up through HTTP, without credentials: ``POST /api/public/subscription`` (JSON and
form) and the HTML subscription form (``GET``/``POST /subscription/form``).

The database is shared by the session, so each test makes its own e-mails and lists.
"""

from __future__ import annotations

import asyncio
import uuid
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from services.runtime import Runtime
from tests.integration.subscribers_support import (
    create,
    event_count,
    get,
    make_list,
    scalar,
    statuses,
    unique_email,
)

SUBSCRIBE = "/api/public/subscription"


class FormPage(HTMLParser):
    """What a visitor's browser would find on a page: checkboxes, inputs, visible text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []
        self.labels: list[str] = []
        self.text: list[str] = []
        self._in_label = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            self.inputs.append({k: v or "" for k, v in attrs})
        self._in_label = tag == "label"

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._in_label = False

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())
            if self._in_label:
                self.labels.append(data.strip())

    def checkbox_values(self, name: str) -> list[str]:
        return [i["value"] for i in self.inputs if i.get("type") == "checkbox"
                and i.get("name") == name]


async def find(api: httpx.AsyncClient, email: str) -> dict[str, Any] | None:
    """The subscriber with ``email`` as the admin API shows it."""
    response = await api.get("/api/subscribers",
                             params={"query": f"subscribers.email = '{email}'"})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["data"]["results"]
    return results[0] if results else None


async def optin_requests(runtime: Runtime, subscriber_id: int) -> int:
    return int(await scalar(runtime, "SELECT count(*) FROM eventlog.events WHERE stream_id = %s"
                            " AND type = 'subscriber.optin_requested'",
                            f"subscriber-{subscriber_id}"))


# --- the JSON / form API ----------------------------------------------------------------------

async def test_single_optin_list_subscribes_without_optin(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, runtime: Runtime
) -> None:
    single = await make_list(api, type="public", optin="single")
    email = unique_email("single")
    response = await anon.post(SUBSCRIBE, json={"email": email, "name": "  Sam Single ",
                                                 "list_uuids": [single["uuid"]]})
    assert (response.status_code, response.json()) == (200, {"data": {"has_optin": False}})
    found = await find(api, email)  # read-your-writes: visible at once
    assert found is not None
    assert (found["name"], found["status"], found["attribs"]) == ("Sam Single", "enabled", {})
    assert statuses(found) == {single["id"]: "unconfirmed"}
    assert await optin_requests(runtime, found["id"]) == 0


async def test_double_optin_list_asks_for_confirmation(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, runtime: Runtime
) -> None:
    single = await make_list(api, type="public", optin="single")
    double = await make_list(api, type="public", optin="double")
    email = unique_email("double")
    response = await anon.post(SUBSCRIBE, json={
        "email": email.upper(), "list_uuids": [double["uuid"].upper(), single["uuid"]]})
    assert (response.status_code, response.json()) == (200, {"data": {"has_optin": True}})
    found = await find(api, email)
    assert found is not None
    assert found["email"] == email and found["name"] == email.split("@")[0]
    assert statuses(found) == {single["id"]: "unconfirmed", double["id"]: "unconfirmed"}
    assert await optin_requests(runtime, found["id"]) == 1


async def test_form_encoded_body_with_repeated_l(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    one = await make_list(api, type="public", optin="single")
    two = await make_list(api, type="public", optin="double")
    email = unique_email("form")
    response = await anon.post(SUBSCRIBE, data={"email": email, "name": "Form Person",
                                                "l": [one["uuid"], two["uuid"]]})
    assert (response.status_code, response.json()) == (200, {"data": {"has_optin": True}})
    found = await find(api, email)
    assert found is not None and found["name"] == "Form Person"
    assert set(statuses(found)) == {one["id"], two["id"]}


async def test_attribs_are_ignored_like_listmonk(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    listed = await make_list(api, type="public")
    email = unique_email("attribs")
    response = await anon.post(SUBSCRIBE, json={"email": email, "list_uuids": [listed["uuid"]],
                                                "attribs": {"plan": "gold"}})
    assert response.status_code == 200
    found = await find(api, email)
    assert found is not None and found["attribs"] == {}


@pytest.mark.parametrize(("body", "message"), [
    ({"email": "a@b.co", "list_uuids": []}, "No valid lists selected to subscribe."),
    ({"email": "a@b.co"}, "No valid lists selected to subscribe."),
    ({"email": "a@b.co", "list_uuids": ["not-a-uuid"]}, "Invalid UUID(s)"),
    ({"email": "a@b.co", "list_uuids": [str(uuid.uuid4())]},
     "No valid lists selected to subscribe."),
    ({"email": "nope", "list_uuids": [str(uuid.uuid4())]}, "Invalid email."),
    ({"email": "John <j@x.com>", "list_uuids": [str(uuid.uuid4())]}, "Invalid email."),
    ({"email": "x" * 996 + "@b.co", "list_uuids": [str(uuid.uuid4())]}, "Invalid email."),
    ({"email": "a@b.co", "name": "n" * 2001, "list_uuids": [str(uuid.uuid4())]},
     "Invalid name."),
    ({"email": 5, "list_uuids": []},
     "Unmarshal type error: expected=string, got=number, field=email"),
])
async def test_invalid_requests_are_400_and_append_nothing(
    anon: httpx.AsyncClient, runtime: Runtime, body: dict[str, Any], message: str
) -> None:
    before = await event_count(runtime)
    response = await anon.post(SUBSCRIBE, json=body)
    assert (response.status_code, response.json()) == (400, {"message": message})
    assert await event_count(runtime) == before


async def test_private_list_refuses_the_request(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, runtime: Runtime
) -> None:
    public = await make_list(api, type="public")
    private = await make_list(api, type="private")
    email = unique_email("private")
    before = await event_count(runtime)
    response = await anon.post(SUBSCRIBE, json={
        "email": email, "list_uuids": [public["uuid"], private["uuid"]]})
    assert (response.status_code, response.json()) == (400, {"message": "Invalid UUID(s)"})
    assert await event_count(runtime) == before
    assert await find(api, email) is None


async def test_unknown_list_uuids_are_ignored_when_a_known_one_is_given(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    listed = await make_list(api, type="public")
    email = unique_email("unknown")
    response = await anon.post(SUBSCRIBE, json={
        "email": email, "list_uuids": [str(uuid.uuid4()), listed["uuid"]]})
    assert response.status_code == 200
    found = await find(api, email)
    assert found is not None and statuses(found) == {listed["id"]: "unconfirmed"}


async def test_existing_email_is_subscribed_again_without_changing_its_profile(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, runtime: Runtime
) -> None:
    confirmed = await make_list(api, type="public", optin="double")
    left = await make_list(api, type="public", optin="double")
    fresh = await make_list(api, type="public", optin="single")
    email = unique_email("again")
    existing = await create(api, email=email, name="Original Name", attribs={"k": "v"},
                            lists=[confirmed["id"], left["id"]],
                            preconfirm_subscriptions=True)
    unsub = await api.put("/api/subscribers/lists", json={
        "ids": [existing["id"]], "action": "unsubscribe", "target_list_ids": [left["id"]]})
    assert unsub.status_code == 200

    response = await anon.post(SUBSCRIBE, json={
        "email": email.upper(), "name": "Someone Else",
        "list_uuids": [confirmed["uuid"], left["uuid"], fresh["uuid"]]})
    assert (response.status_code, response.json()) == (200, {"data": {"has_optin": True}})
    after = await get(api, existing["id"])
    assert (after["name"], after["attribs"]) == ("Original Name", {"k": "v"})
    assert statuses(after) == {confirmed["id"]: "confirmed", left["id"]: "unconfirmed",
                               fresh["id"]: "unconfirmed"}
    assert await optin_requests(runtime, existing["id"]) == 1

    # Nothing pending any more once everything is confirmed: no opt-in asked.
    await api.put("/api/subscribers/lists", json={
        "ids": [existing["id"]], "action": "add", "status": "confirmed",
        "target_list_ids": [left["id"]]})
    again = await anon.post(SUBSCRIBE, json={"email": email, "list_uuids": [fresh["uuid"]]})
    assert again.json() == {"data": {"has_optin": False}}


async def test_blocklisted_subscriber_stays_unsubscribed(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    listed = await make_list(api, type="public", optin="double")
    blocked = await create(api, status="blocklisted")
    response = await anon.post(SUBSCRIBE, json={"email": blocked["email"],
                                                "list_uuids": [listed["uuid"]]})
    assert response.json() == {"data": {"has_optin": False}}
    after = await get(api, blocked["id"])
    assert (after["status"], statuses(after)) == ("blocklisted", {listed["id"]: "unsubscribed"})


async def test_concurrent_sign_ups_of_one_new_email_make_one_subscriber(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, runtime: Runtime
) -> None:
    listed = await make_list(api, type="public")
    email = unique_email("race")
    responses = await asyncio.gather(*(
        anon.post(SUBSCRIBE, json={"email": email, "list_uuids": [listed["uuid"]]})
        for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    found = await find(api, email)
    assert found is not None
    assert await scalar(runtime, "SELECT count(*) FROM readmodel.subscribers"
                        " WHERE email = %s", email) == 1


# --- the HTML form ----------------------------------------------------------------------------

async def test_form_page_lists_exactly_the_active_public_lists(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, runtime: Runtime
) -> None:
    shown = await make_list(api, type="public", description="Weekly <b>news</b>")
    for hidden in ({"type": "private"}, {"type": "temporary"},
                   {"type": "public", "status": "archived"}):
        await make_list(api, **hidden)
    response = await anon.get("/subscription/form")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = FormPage(response.text)
    async with runtime.read_pool.connection() as conn:
        cur = await conn.execute("SELECT uuid::text FROM readmodel.lists"
                                 " WHERE type = 'public' AND status = 'active' ORDER BY id")
        expected = [row[0] for row in await cur.fetchall()]
    assert page.checkbox_values("l") == expected
    assert shown["name"] in page.labels
    assert "Weekly <b>news</b>" in page.text  # escaped: shown as text, not markup
    assert "<b>news</b>" not in response.text
    names = {i.get("name") for i in page.inputs}
    assert {"email", "name", "nonce", "l"} <= names


async def test_form_post_thanks_the_visitor(
    api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    single = await make_list(api, type="public", optin="single")
    double = await make_list(api, type="public", optin="double")
    email = unique_email("thanks")
    response = await anon.post("/subscription/form", data={"email": email, "name": "",
                                                           "nonce": "", "l": [single["uuid"]]})
    assert response.status_code == 200
    assert "You are subscribed." in FormPage(response.text).text
    found = await find(api, email)
    assert found is not None and statuses(found) == {single["id"]: "unconfirmed"}

    pending = await anon.post("/subscription/form", data={"email": unique_email("pending"),
                                                          "l": [double["uuid"]]})
    assert pending.status_code == 200
    assert any("confirm your subscription" in t for t in FormPage(pending.text).text)


async def test_form_errors_are_pages(api: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    listed = await make_list(api, type="public")
    response = await anon.post("/subscription/form", data={"email": "bad",
                                                           "l": [listed["uuid"]]})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "Invalid email." in FormPage(response.text).text
    none = await anon.post("/subscription/form", data={"email": unique_email()})
    assert none.status_code == 400
    assert "No valid lists selected to subscribe." in FormPage(none.text).text


async def test_filled_honeypot_subscribes_nobody(
    api: httpx.AsyncClient, anon: httpx.AsyncClient, runtime: Runtime
) -> None:
    listed = await make_list(api, type="public")
    email = unique_email("bot")
    before = await event_count(runtime)
    response = await anon.post("/subscription/form", data={
        "email": email, "nonce": "gotcha", "l": [listed["uuid"]]})
    assert response.status_code == 502
    assert await event_count(runtime) == before
    assert await find(api, email) is None
