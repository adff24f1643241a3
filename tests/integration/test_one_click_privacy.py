"""The unsubscribe link of e-mails through HTTP: RFC 8058's one-click POST, and the
``privacy.allow_*`` settings on the unsubscribe/preferences pages (options shown or hidden,
POSTs refused when off), applied live.

The settings are global, so this module runs a postlog of its own (``settings_support``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kernel.settings import Settings
from tests.integration.settings_support import SettingsStack, settings_stack
from tests.integration.subscribers_support import get, make_list, statuses, unique_email
from tests.integration.test_public_subscription import FormPage

FLAGS = ("privacy.allow_blocklist", "privacy.allow_preferences", "privacy.allow_export",
         "privacy.allow_wipe")
FEATURE_OFF = "That feature is not available."


async def put_setting(stack: SettingsStack, key: str, value: bool) -> None:
    """Set one setting with a whole-object ``PUT /api/settings`` (as listmonk's UI does: the
    secrets go back masked); return once this process's live settings have it."""
    async with stack.client() as api:
        body = (await api.get("/api/settings")).json()["data"]
        body[key] = value
        response = await api.put("/api/settings", json=body)
        assert response.status_code == 200, response.text
    field = key.replace(".", "_")
    assert await stack.runtime.live_settings.wait_for(lambda s: getattr(s, field) == value, 10)


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SettingsStack]:
    async with settings_stack(admin_pg_url, settings) as running:
        yield running


@pytest.fixture
async def api(stack: SettingsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


@pytest.fixture
async def anon(stack: SettingsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client(anonymous=True) as client:
        yield client


class Page(FormPage):
    """A page as a browser sees it, with the forms' actions."""

    def __init__(self, page: str) -> None:
        self.actions: list[str] = []
        super().__init__(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.actions.append(dict(attrs).get("action") or "")
        super().handle_starttag(tag, attrs)

    def names(self) -> set[str]:
        return {i.get("name", "") for i in self.inputs}


async def subscriber_on(api: httpx.AsyncClient, anon: httpx.AsyncClient,
                        *lists: dict[str, Any]) -> dict[str, Any]:
    email = unique_email("oneclick")
    response = await anon.post("/api/public/subscription", json={
        "email": email, "name": "Una Click", "list_uuids": [item["uuid"] for item in lists]})
    assert response.status_code == 200, response.text
    found = await api.get("/api/subscribers", params={"query": f"subscribers.email = '{email}'"})
    [subscriber] = found.json()["data"]["results"]
    return dict(subscriber)


async def campaign_to(api: httpx.AsyncClient, *lists: dict[str, Any]) -> dict[str, Any]:
    response = await api.post("/api/campaigns", json={
        "name": f"c-{uuid.uuid4().hex[:6]}", "subject": "Hello",
        "lists": [item["id"] for item in lists], "body": "<p>hi</p>"})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.fixture
async def setup(api: httpx.AsyncClient, anon: httpx.AsyncClient
                ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
    """A subscriber on two lists, a campaign to the first, and the campaign's unsubscribe
    URL for the subscriber (what ``List-Unsubscribe`` carries)."""
    news, other = await make_list(api, type="public"), await make_list(api, type="public")
    sub = await subscriber_on(api, anon, news, other)
    campaign = await campaign_to(api, news)
    return sub, news, other, f"/subscription/{campaign['uuid']}/{sub['uuid']}"


@pytest.fixture
async def privacy(stack: SettingsStack) -> AsyncIterator[None]:
    """Every ``privacy.allow_*`` back on after the test (listmonk's defaults)."""
    yield
    for flag in FLAGS:
        if not getattr(stack.runtime.live_settings.current(), flag.replace(".", "_")):
            await put_setting(stack, flag, True)


# --- one click ----------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["urlencoded", "multipart"])
async def test_one_click_post_unsubscribes_from_the_campaigns_lists(
    api: httpx.AsyncClient, anon: httpx.AsyncClient,
    setup: tuple[dict[str, Any], dict[str, Any], dict[str, Any], str], form: str,
) -> None:
    sub, news, other, url = setup
    if form == "urlencoded":  # exactly what RFC 8058 mail clients send
        response = await anon.post(url, content=b"List-Unsubscribe=One-Click", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
    else:
        response = await anon.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert "You have been unsubscribed." in Page(response.text).text
    after = await get(api, sub["id"])
    assert after["status"] == "enabled"
    assert statuses(after) == {news["id"]: "unsubscribed", other["id"]: "unconfirmed"}

    # The same URL still shows the page; a second click changes nothing and still answers.
    page = await anon.get(url)
    assert page.status_code == 200
    assert "Do you want to stop receiving e-mails from this mailing list?" in Page(page.text).text
    again = await anon.post(url, content=b"List-Unsubscribe=One-Click", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert again.status_code == 200
    assert statuses(await get(api, sub["id"])) == statuses(after)


# --- privacy.allow_preferences ------------------------------------------------------------------

@pytest.mark.usefixtures("privacy")
async def test_preferences_are_offered_and_saved_only_while_allowed(
    stack: SettingsStack, api: httpx.AsyncClient, anon: httpx.AsyncClient,
    setup: tuple[dict[str, Any], dict[str, Any], dict[str, Any], str],
) -> None:
    sub, news, other, url = setup
    unsubscribe = Page((await anon.get(url)).text)
    assert "Manage your preferences" in unsubscribe.text
    managed = Page((await anon.get(url, params={"manage": "true"})).text)
    assert "name" in managed.names() and "Your preferences" in managed.text

    await put_setting(stack, "privacy.allow_preferences", False)
    unsubscribe = Page((await anon.get(url)).text)
    assert "Manage your preferences" not in unsubscribe.text
    managed_off = await anon.get(url, params={"manage": "true"})
    assert managed_off.status_code == 200
    page = Page(managed_off.text)
    assert "name" not in page.names() and "Unsubscribe" in page.text  # the unsubscribe page
    refused = await anon.post(url, data={"manage": "true", "name": "New Name",
                                         "l": [news["uuid"]]})
    assert refused.status_code == 400
    assert FEATURE_OFF in Page(refused.text).text
    after = await get(api, sub["id"])
    assert after["name"] == "Una Click"
    assert statuses(after) == {news["id"]: "unconfirmed", other["id"]: "unconfirmed"}

    await put_setting(stack, "privacy.allow_preferences", True)
    saved = await anon.post(url, data={"manage": "true", "name": "New Name",
                                       "l": [news["uuid"]]})
    assert saved.status_code == 200
    after = await get(api, sub["id"])
    assert after["name"] == "New Name"
    assert statuses(after) == {news["id"]: "unconfirmed", other["id"]: "unsubscribed"}


# --- privacy.allow_blocklist --------------------------------------------------------------------

@pytest.mark.usefixtures("privacy")
async def test_blocklisting_is_offered_and_done_only_while_allowed(
    stack: SettingsStack, api: httpx.AsyncClient, anon: httpx.AsyncClient,
    setup: tuple[dict[str, Any], dict[str, Any], dict[str, Any], str],
) -> None:
    sub, news, other, url = setup
    assert "blocklist" in Page((await anon.get(url)).text).names()
    assert "blocklist" in Page((await anon.get(url, params={"manage": "true"})).text).names()

    await put_setting(stack, "privacy.allow_blocklist", False)
    assert "blocklist" not in Page((await anon.get(url)).text).names()
    assert "blocklist" not in Page((await anon.get(url, params={"manage": "true"})).text).names()
    # As listmonk: blocklist=true is then a plain unsubscribe from the campaign's lists.
    response = await anon.post(url, data={"blocklist": "true"})
    assert response.status_code == 200
    after = await get(api, sub["id"])
    assert after["status"] == "enabled"
    assert statuses(after) == {news["id"]: "unsubscribed", other["id"]: "unconfirmed"}

    await put_setting(stack, "privacy.allow_blocklist", True)
    response = await anon.post(url, data={"blocklist": "true"})
    assert response.status_code == 200
    after = await get(api, sub["id"])
    assert after["status"] == "blocklisted"
    assert set(statuses(after).values()) == {"unsubscribed"}


# --- privacy.allow_export and privacy.allow_wipe ------------------------------------------------

@pytest.mark.usefixtures("privacy")
async def test_export_is_offered_and_answered_only_while_allowed(
    stack: SettingsStack, anon: httpx.AsyncClient,
    setup: tuple[dict[str, Any], dict[str, Any], dict[str, Any], str],
) -> None:
    sub, _, _, url = setup
    export = f"../export/{sub['uuid']}"
    for query in ({}, {"manage": "true"}):
        assert export in Page((await anon.get(url, params=query)).text).actions
    assert (await anon.post(f"/subscription/export/{sub['uuid']}")).status_code == 200

    await put_setting(stack, "privacy.allow_export", False)
    for query in ({}, {"manage": "true"}):
        page = Page((await anon.get(url, params=query)).text)
        assert export not in page.actions
        assert f"../wipe/{sub['uuid']}" in page.actions  # wipe is still allowed
    refused = await anon.post(f"/subscription/export/{sub['uuid']}")
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "text/html; charset=utf-8"
    assert FEATURE_OFF in Page(refused.text).text


@pytest.mark.usefixtures("privacy")
async def test_wipe_is_offered_and_done_only_while_allowed(
    stack: SettingsStack, api: httpx.AsyncClient, anon: httpx.AsyncClient,
    setup: tuple[dict[str, Any], dict[str, Any], dict[str, Any], str],
) -> None:
    sub, _, _, url = setup
    wipe = f"../wipe/{sub['uuid']}"
    assert wipe in Page((await anon.get(url)).text).actions

    await put_setting(stack, "privacy.allow_wipe", False)
    for query in ({}, {"manage": "true"}):
        page = Page((await anon.get(url, params=query)).text)
        assert wipe not in page.actions
        assert f"../export/{sub['uuid']}" in page.actions
    refused = await anon.post(f"/subscription/wipe/{sub['uuid']}")
    assert refused.status_code == 400
    assert FEATURE_OFF in Page(refused.text).text
    assert (await api.get(f"/api/subscribers/{sub['id']}")).status_code == 200

    await put_setting(stack, "privacy.allow_wipe", True)
    assert (await anon.post(f"/subscription/wipe/{sub['uuid']}")).status_code == 200
    assert (await api.get(f"/api/subscribers/{sub['id']}")).status_code == 404


@pytest.mark.usefixtures("privacy")
async def test_with_export_and_wipe_off_the_data_section_is_gone(
    stack: SettingsStack, anon: httpx.AsyncClient,
    setup: tuple[dict[str, Any], dict[str, Any], dict[str, Any], str],
) -> None:
    _, _, _, url = setup
    assert "Your data" in Page((await anon.get(url)).text).text
    await put_setting(stack, "privacy.allow_export", False)
    await put_setting(stack, "privacy.allow_wipe", False)
    page = Page((await anon.get(url)).text)
    assert "Your data" not in page.text
    assert page.actions == [""]  # only the unsubscribe form, posting to its own URL
