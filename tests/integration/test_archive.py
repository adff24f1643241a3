"""The public campaign archive through HTTP: the index page, one campaign by slug or uuid, the
latest, the RSS feed, ``/api/public/archive``, all gone (404) while
``app.enable_public_archive`` is off; ``POST /api/campaigns/:id/preview/archive``,
``POST /api/campaigns/:id/content`` and ``/robots.txt``.

The archive lists every archived campaign of the database and the setting is global, so this
module runs a postlog of its own (``settings_support``) where it knows every campaign.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from kernel.settings import Settings
from services.command_api.templates.seed import ensure_default_templates
from services.sender.templating import markdown_to_html
from tests.integration.settings_support import ROOT_URL, SettingsStack, settings_stack
from tests.integration.subscribers_support import eventually, make_list

ROOT = ROOT_URL.rstrip("/")
META = {"name": "Archie Reader", "attribs": {"city": "Porto"}}
BODY = "<p>Dear {{ .Subscriber.FirstName }} of {{ .Subscriber.Attribs.city }}</p>"
ENTRY_KEYS = ["uuid", "subject", "content", "created_at", "send_at", "url"]


@dataclass
class Archive:
    stack: SettingsStack
    archive_template: int
    spring: dict[str, Any]  # archived, slug, sent: the older one
    summer: dict[str, Any]  # archived, no slug, sent: the newest
    draft: dict[str, Any]  # archived but never sent
    unarchived: dict[str, Any]  # sent, not archived
    optin: dict[str, Any]  # archived and sent, but an opt-in campaign


async def set_archive(api: httpx.AsyncClient, campaign: dict[str, Any], **fields: Any) -> None:
    response = await api.put(f"/api/campaigns/{campaign['id']}/archive",
                             json={"archive": True, **fields})
    assert response.status_code == 200, response.text


async def start(api: httpx.AsyncClient, campaign: dict[str, Any]) -> None:
    response = await api.put(f"/api/campaigns/{campaign['id']}/status",
                             json={"status": "running"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "running"


async def create(api: httpx.AsyncClient, lists: list[int], **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/campaigns", json={
        "name": f"c-{uuid.uuid4().hex[:6]}", "subject": "Plain subject", "lists": lists,
        "body": BODY, **fields})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


@pytest.fixture(scope="module")
async def archive(admin_pg_url: str, settings: Settings) -> AsyncIterator[Archive]:
    async with settings_stack(admin_pg_url, settings) as stack, stack.client() as api:
        await ensure_default_templates(stack.runtime.pool)

        async def seeded() -> bool:
            found = (await api.get("/api/templates")).json().get("data") or []
            return any(t["name"] == "Default archive template" for t in found)

        await eventually(seeded, within=30)
        templates = (await api.get("/api/templates")).json()["data"]
        archive_template = next(t["id"] for t in templates
                                if t["name"] == "Default archive template")
        news = await make_list(api, type="public")
        double = await make_list(api, type="public", optin="double")

        spring = await create(api, [news["id"]], subject="Spring for {{ .Subscriber.Name }}")
        await set_archive(api, spring, archive_slug="spring-news", archive_meta=META,
                          archive_template_id=archive_template)
        await start(api, spring)
        summer = await create(api, [news["id"]], subject="Summer news",
                              body="# Summer\n\nHi {{ .Subscriber.Name }}",
                              content_type="markdown")
        await set_archive(api, summer, archive_meta={"name": "Sunny"},
                          archive_template_id=archive_template)
        await start(api, summer)
        draft = await create(api, [news["id"]], subject="Draft")
        await set_archive(api, draft, archive_slug="draft-news", archive_meta=META)
        unarchived = await create(api, [news["id"]], subject="Not archived")
        await start(api, unarchived)
        optin = await create(api, [double["id"]], type="optin", subject="Confirm")
        await set_archive(api, optin, archive_slug="optin-news")
        await start(api, optin)
        yield Archive(stack, archive_template, spring, summer, draft, unarchived, optin)


@pytest.fixture
async def anon(archive: Archive) -> AsyncIterator[httpx.AsyncClient]:
    async with archive.stack.client(anonymous=True) as client:
        yield client


@pytest.fixture
async def api(archive: Archive) -> AsyncIterator[httpx.AsyncClient]:
    async with archive.stack.client() as client:
        yield client


class Links(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.text: list[str] = []
        self._href: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())
            if self._href is not None:
                self.links.append((self._href, data.strip()))


# --- the index ----------------------------------------------------------------------------------

async def test_the_index_lists_only_archived_sent_regular_campaigns_newest_first(
    archive: Archive, anon: httpx.AsyncClient
) -> None:
    response = await anon.get("/archive")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "x-robots-tag" not in response.headers  # the archive is meant to be found
    page = Links(response.text)
    campaigns = [(href, label) for href, label in page.links if "/archive/" in href]
    assert campaigns == [(f"{ROOT}/archive/{archive.summer['uuid']}", "Summer news"),
                         (f"{ROOT}/archive/spring-news", "Spring for Archie Reader")]
    assert (f"{ROOT}/archive.xml", "RSS feed") in page.links

    second = Links((await anon.get("/archive", params={"per_page": 1, "page": 2})).text)
    assert [label for href, label in second.links if "/archive/" in href] == [
        "Spring for Archie Reader"]
    assert ("?page=1&per_page=1", "« Previous") in second.links
    beyond = Links((await anon.get("/archive", params={"page": 9})).text)
    assert "No archived messages yet." in beyond.text


# --- one campaign -------------------------------------------------------------------------------

async def test_a_campaign_by_slug_or_uuid_renders_with_its_archive_template_and_meta(
    archive: Archive, anon: httpx.AsyncClient
) -> None:
    by_slug = await anon.get("/archive/spring-news")
    assert by_slug.status_code == 200
    assert by_slug.headers["content-type"] == "text/html; charset=utf-8"
    assert "<p>Dear Archie of Porto</p>" in by_slug.text
    assert "<title>Spring for Archie Reader</title>" in by_slug.text  # the archive template
    assert '<div class="card">' in by_slug.text
    by_uuid = await anon.get(f"/archive/{archive.spring['uuid']}")
    assert by_uuid.status_code == 200 and by_uuid.text == by_slug.text

    summer = await anon.get(f"/archive/{archive.summer['uuid']}")
    assert summer.status_code == 200
    assert "<p>Hi Sunny</p>" in summer.text and '<h1 id="summer">Summer</h1>' in summer.text


@pytest.mark.parametrize("name", ["draft", "unarchived", "optin"])
async def test_campaigns_outside_the_archive_are_not_found(
    archive: Archive, anon: httpx.AsyncClient, name: str
) -> None:
    campaign = getattr(archive, name)
    for key in (campaign["uuid"], f"{name}-news"):
        response = await anon.get(f"/archive/{key}")
        assert response.status_code == 404, key
        assert "The e-mail message was not found." in Links(response.text).text
    assert (await anon.get(f"/archive/{uuid.uuid4()}")).status_code == 404
    assert (await anon.get("/archive/no-such-slug")).status_code == 404


async def test_latest_is_the_newest_archived_campaign(
    archive: Archive, anon: httpx.AsyncClient
) -> None:
    latest = await anon.get("/archive/latest")
    assert latest.status_code == 200
    assert latest.text == (await anon.get(f"/archive/{archive.summer['uuid']}")).text


# --- the feed -----------------------------------------------------------------------------------

async def test_the_feed_is_rss_of_the_archive(archive: Archive, anon: httpx.AsyncClient) -> None:
    response = await anon.get("/archive.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/rss+xml")
    rss = ET.fromstring(response.content)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel is not None
    assert (channel.findtext("title"), channel.findtext("link"),
            channel.findtext("description")) == ("Mailing list", ROOT, "Mailing list archive")
    items = channel.findall("item")
    assert [(i.findtext("title"), i.findtext("link"), i.findtext("guid")) for i in items] == [
        ("Summer news", f"{ROOT}/archive/{archive.summer['uuid']}", archive.summer["uuid"]),
        ("Spring for Archie Reader", f"{ROOT}/archive/spring-news", archive.spring["uuid"])]
    published = [parsedate_to_datetime(i.findtext("pubDate") or "") for i in items]
    assert published[0] >= published[1]
    # app.enable_public_archive_rss_content (on by default): the message is in the item.
    assert "<p>Dear Archie of Porto</p>" in (items[1].findtext("description") or "")


# --- JSON ---------------------------------------------------------------------------------------

async def test_public_archive_json_has_listmonks_shape(
    archive: Archive, anon: httpx.AsyncClient
) -> None:
    response = await anon.get("/api/public/archive")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["total"], data["page"], data["per_page"]) == (2, 1, 20)
    assert [list(entry) for entry in data["results"]] == [ENTRY_KEYS, ENTRY_KEYS]
    summer, spring = data["results"]
    assert (spring["uuid"], spring["subject"], spring["content"], spring["url"]) == (
        archive.spring["uuid"], "Spring for Archie Reader", "", f"{ROOT}/archive/spring-news")
    assert spring["created_at"] == archive.spring["created_at"]
    assert spring["send_at"] is None
    assert summer["url"] == f"{ROOT}/archive/{archive.summer['uuid']}"

    paged = (await anon.get("/api/public/archive", params={"per_page": 1, "page": 2})).json()
    assert [e["uuid"] for e in paged["data"]["results"]] == [archive.spring["uuid"]]
    assert (paged["data"]["total"], paged["data"]["page"], paged["data"]["per_page"]) == (
        2, 2, 1)
    for too_many in ("all", "1000"):  # anonymous callers get at most listmonk's 50 a page
        capped = (await anon.get("/api/public/archive", params={"per_page": too_many})).json()
        assert (capped["data"]["per_page"], len(capped["data"]["results"])) == (50, 2)
    empty = (await anon.get("/api/public/archive", params={"page": 5})).json()
    assert empty == {"data": {"results": [], "search": "", "query": "", "total": 0,
                              "per_page": 0, "page": 0}}


# --- the setting --------------------------------------------------------------------------------

async def test_with_the_archive_disabled_every_archive_route_is_404(
    archive: Archive, anon: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    live = archive.stack.runtime.live_settings

    async def put_enabled(value: bool) -> None:
        body = (await api.get("/api/settings")).json()["data"]
        body["app.enable_public_archive"] = value
        assert (await api.put("/api/settings", json=body)).status_code == 200
        assert await live.wait_for(lambda s: s.app_enable_public_archive is value, 10)

    await put_enabled(False)
    try:
        for path in ("/archive", "/archive.xml", "/archive/latest", "/archive/spring-news",
                     f"/archive/{archive.spring['uuid']}"):
            response = await anon.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "text/html; charset=utf-8"
        response = await anon.get("/api/public/archive")
        assert (response.status_code, response.json()) == (
            404, {"message": "404 unknown endpoint"})
        # the preview is an admin tool: listmonk serves it whatever the setting
        preview = await api.post(f"/api/campaigns/{archive.spring['id']}/preview/archive",
                                 data={"archive_meta": "{}"})
        assert preview.status_code == 200
    finally:
        await put_enabled(True)
    assert (await anon.get("/archive/spring-news")).status_code == 200


# --- preview ------------------------------------------------------------------------------------

async def test_preview_renders_with_the_posted_meta_and_template(
    archive: Archive, api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    url = f"/api/campaigns/{archive.draft['id']}/preview/archive"  # any campaign, any status
    response = await api.post(url, data={
        "archive_meta": '{"name": "Preview Person", "attribs": {"city": "Lisbon"}}',
        "template_id": str(archive.archive_template)})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<p>Dear Preview of Lisbon</p>" in response.text
    assert '<div class="card">' in response.text  # the archive template

    as_json = await api.post(url, json={"archive_meta": {"name": "Jay Son"}})
    assert as_json.status_code == 200
    assert "<p>Dear Jay of </p>" in as_json.text

    for meta in ("{not json", "[1]", '{"name": 5}'):
        refused = await api.post(url, data={"archive_meta": meta})
        assert refused.status_code == 400, meta
        assert "archive_meta" in refused.json()["message"]
    assert (await api.post("/api/campaigns/999999/preview/archive",
                           data={"archive_meta": "{}"})).status_code == 404
    assert (await api.post("/api/campaigns/x/preview/archive")).status_code == 400
    assert (await anon.post(url, data={"archive_meta": "{}"})).status_code == 403


# --- content conversion -------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["html", "richtext"])
async def test_markdown_converts_to_html(
    archive: Archive, api: httpx.AsyncClient, target: str
) -> None:
    markdown = "# Title\n\nHello *there* {{ .Subscriber.Name }}"
    response = await api.post(f"/api/campaigns/{archive.spring['id']}/content", json={
        "body": markdown, "content_type": "markdown", "from": "markdown", "to": target})
    assert response.status_code == 200
    assert response.json() == {"data": markdown_to_html(markdown)}
    assert "<em>there</em>" in response.json()["data"]


@pytest.mark.parametrize(("source", "target"), [
    ("richtext", "html"), ("html", "markdown"), ("plain", "richtext"), ("html", "plain"),
    ("markdown", "plain"), ("markdown", "visual"), ("", "")])
async def test_other_conversions_are_refused_as_listmonk(
    archive: Archive, api: httpx.AsyncClient, source: str, target: str
) -> None:
    response = await api.post(f"/api/campaigns/{archive.spring['id']}/content",
                              json={"body": "<p>x</p>", "from": source, "to": target})
    assert (response.status_code, response.json()) == (
        400, {"message": "unknown formats to convert"})


async def test_content_conversion_checks_the_id_and_the_caller(
    archive: Archive, api: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    body = {"body": "x", "from": "markdown", "to": "html"}
    assert (await api.post("/api/campaigns/0/content", json=body)).status_code == 400
    assert (await api.post("/api/campaigns/1/content", json={"body": 5})).status_code == 400
    assert (await anon.post(f"/api/campaigns/{archive.spring['id']}/content",
                            json=body)).status_code == 403


# --- robots.txt ---------------------------------------------------------------------------------

async def test_robots_txt_keeps_subscriber_pages_out_of_search_engines(
    anon: httpx.AsyncClient
) -> None:
    response = await anon.get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    lines = response.text.splitlines()
    assert lines[0] == "User-agent: *"
    assert {"Allow: /subscription/form", "Disallow: /subscription/", "Disallow: /campaign/",
            "Disallow: /link/"} <= set(lines)
    assert not any(line.startswith("Disallow: /archive") for line in lines)
