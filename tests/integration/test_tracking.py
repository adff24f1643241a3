"""View and click tracking from messages really delivered to an SMTP server, and the analytics
that count them: tracked links redirect and count, the pixel counts, the web view renders the
subscriber's message, analytics and counters agree, individual tracking off and tracking
disabled behave like listmonk, and a replayed link is a few writes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from functools import partial
from typing import Any

import httpx
import pytest

from kernel.settings import Settings
from services.command_api.campaigns.sending import finish_sent, pause_sending
from services.sender.service import sender_service
from services.tracking.recorder import TrackingRecorder
from tests.integration.sender_support import (
    FAST,
    ROOT_URL,
    SenderStack,
    campaign,
    create_campaign,
    eventually,
    make_list,
    sender_stack,
    set_status,
    subscribe,
    until_status,
)
from tests.integration.smtp_support import SMTPTestServer, start_smtp_server

DUMMY = "00000000-0000-0000-0000-000000000000"
BODY = ('<p>Dear {{ .Subscriber.Name }}</p>'
        '<a href="https://example.com/a@TrackLink">A</a>'
        '<a href="{{ TrackLink "https://example.com/b?x=1&amp;y=2" . }}">B</a>'
        '<a href="{{ TrackLink (print "https://example.com/me/" .Subscriber.ID) . }}">Me</a>')
# (the default campaign template adds the view pixel: {{ TrackView }})
LINK = re.compile(re.escape(ROOT_URL) + r"(/link/[0-9a-f-]{36}/[0-9a-f-]{36}/[0-9a-f-]{36})")
PIXEL = re.compile(re.escape(ROOT_URL) + r"(/campaign/[0-9a-f-]{36}/[0-9a-f-]{36}/px\.png)")


@pytest.fixture(scope="module")
async def stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SenderStack]:
    async with sender_stack(admin_pg_url, settings) as built:
        yield built


@pytest.fixture(scope="module")
async def smtp() -> AsyncIterator[SMTPTestServer]:
    async with start_smtp_server() as server:
        yield server


@pytest.fixture
async def api(stack: SenderStack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as client:
        yield client


@pytest.fixture
async def visitor(stack: SenderStack) -> AsyncIterator[httpx.AsyncClient]:
    """A mail reader's browser: no credentials, redirects not followed."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app),  # type: ignore[arg-type]
                                 base_url="http://testserver") as client:
        yield client


def recorder(stack: SenderStack) -> TrackingRecorder:
    found = stack.app.state.tracking
    assert isinstance(found, TrackingRecorder)
    return found


async def configure(stack: SenderStack, api: httpx.AsyncClient, smtp: SMTPTestServer, *,
                    individual: bool, disabled: bool) -> None:
    body = (await api.get("/api/settings")).json()["data"]
    body["smtp"] = [{**body["smtp"][0], "host": "127.0.0.1", "port": smtp.port,
                     "tls_type": "none", "auth_protocol": "none", "enabled": True}]
    body["privacy.individual_tracking"] = individual
    body["privacy.disable_tracking"] = disabled
    assert (await api.put("/api/settings", json=body)).status_code == 200
    live = stack.runtime.live_settings
    assert await live.wait_for(lambda s: (s.smtp[0].port, s.privacy_individual_tracking,
                                          s.privacy_disable_tracking)
                               == (smtp.port, individual, disabled), 10)


async def send(stack: SenderStack, api: httpx.AsyncClient, smtp: SMTPTestServer,
               names: tuple[str, ...]) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                 dict[str, str]]:
    """A campaign with BODY sent to new subscribers ``names``; their delivered HTML by e-mail."""
    audience = await make_list(api)
    people = [await subscribe(api, [audience], name) for name in names]
    created = await create_campaign(api, [audience], body=BODY)
    pool = stack.runtime.pool
    async with sender_service(stack.runtime, finish=partial(finish_sent, pool),
                              pause=partial(pause_sending, pool), tuning=FAST):
        await set_status(api, created["id"], "running")
        await until_status(api, created["id"], "finished")
    html: dict[str, str] = {}
    for message in smtp.recorder.messages:
        if f"X-Listmonk-Campaign: {created['uuid']}".encode() in message.content:
            mail = BytesParser(policy=policy.default).parsebytes(message.content)
            part = mail.get_body(("html",))
            assert part is not None
            html[message.rcpt_tos[0]] = part.get_content()
    assert sorted(html) == sorted(p["email"] for p in people)
    return created, people, html


async def tracking_events(stack: SenderStack) -> int:
    rows = await stack.rows("SELECT count(*) FROM eventlog.events WHERE category = 'tracking'")
    return int(rows[0][0])


def window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"from": (now - timedelta(days=1)).strftime("%Y-%m-%d"),
            "to": (now + timedelta(days=1)).strftime("%Y-%m-%d")}


async def test_links_and_pixel_of_delivered_mail_count_and_analytics_agree(
        stack: SenderStack, api: httpx.AsyncClient, visitor: httpx.AsyncClient,
        smtp: SMTPTestServer) -> None:
    await configure(stack, api, smtp, individual=True, disabled=False)
    created, people, html = await send(stack, api, smtp, ("Ann Smith", "Bob Jones"))
    for person in people:
        body = html[person["email"]]
        links = LINK.findall(body)
        assert len(links) == 2  # A and B; the per-subscriber URL is left untracked
        assert f"https://example.com/me/{person['id']}" in body
        assert all(path.endswith(f"/{created['uuid']}/{person['uuid']}") for path in links)
        targets = []
        for path in links:
            response = await visitor.get(path)
            assert response.status_code == 307
            assert response.headers["x-robots-tag"] == "noindex"
            targets.append(response.headers["location"])
        assert targets == ["https://example.com/a", "https://example.com/b?x=1&y=2"]
        (pixel,) = PIXEL.findall(body)
        image = await visitor.get(pixel)
        assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
        assert image.content.startswith(b"\x89PNG")
    # Bob clicks A once more: 5 clicks by 2 subscribers, 2 views. The repeat is held in A's
    # dedupe window until it closes (60 s, or now: the recorder's final flush).
    await visitor.get(LINK.findall(html[people[1]["email"]])[0])
    await recorder(stack).flush(final=True)

    async def counted() -> bool:
        got = await campaign(api, created["id"])
        return bool((got["views"], got["clicks"]) == (2, 5))

    await eventually(counted)
    params = {"id": str(created["id"]), **window()}
    views = (await api.get("/api/campaigns/analytics/views", params=params)).json()["data"]
    clicks = (await api.get("/api/campaigns/analytics/clicks", params=params)).json()["data"]
    by_link = (await api.get("/api/campaigns/analytics/links", params=params)).json()["data"]
    # individual tracking on: listmonk counts subscribers, not hits
    assert sum(v["count"] for v in views) == 2
    assert {v["campaign_id"] for v in views + clicks} == {created["id"]}
    assert sum(c["count"] for c in clicks) == 2
    assert by_link == [{"url": "https://example.com/a", "count": 2},
                       {"url": "https://example.com/b?x=1&y=2", "count": 2}]
    bounces = await api.get("/api/campaigns/analytics/bounces", params=params)
    assert bounces.json() == {"data": []}

    bob = people[1]
    activity = (await api.get(f"/api/subscribers/{bob['id']}/activity")).json()["data"]
    assert [(v["id"], v["view_count"]) for v in activity["campaign_views"]] == [
        (created["id"], 1)]
    assert sorted((c["url"], c["click_count"]) for c in activity["link_clicks"]) == [
        ("https://example.com/a", 2), ("https://example.com/b?x=1&y=2", 1)]
    export = (await api.get(f"/api/subscribers/{bob['id']}/export")).json()
    assert export["campaign_views"] == [{"campaign": created["subject"], "views": 1}]
    assert sorted((c["url"], c["clicks"]) for c in export["link_clicks"]) == [
        ("https://example.com/a", 2), ("https://example.com/b?x=1&y=2", 1)]
    own = await visitor.post(f"/subscription/export/{bob['uuid']}")  # Bob's own download
    assert own.status_code == 200, own.text
    assert own.json()["campaign_views"] == export["campaign_views"]
    assert own.json()["link_clicks"] == export["link_clicks"]

    charts = (await api.get("/api/dashboard/charts")).json()["data"]
    today = datetime.now(UTC).date().isoformat()
    assert charts["campaign_views"][-1]["date"] == today
    assert charts["campaign_views"][-1]["count"] >= 2
    assert charts["link_clicks"][-1]["count"] >= 5
    counts = (await api.get("/api/dashboard/counts")).json()["data"]
    assert counts["subscribers"]["total"] >= 2
    assert counts["campaigns"]["by_status"]["finished"] >= 1
    assert counts["messages"] >= 2


async def test_the_web_view_renders_the_subscribers_message(
        stack: SenderStack, api: httpx.AsyncClient, visitor: httpx.AsyncClient,
        smtp: SMTPTestServer) -> None:
    await configure(stack, api, smtp, individual=True, disabled=False)
    created, people, html = await send(stack, api, smtp, ("Cleo Stone",))
    (cleo,) = people
    page = await visitor.get(f"/campaign/{created['uuid']}/{cleo['uuid']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Dear Cleo Stone" in page.text
    assert LINK.findall(page.text) == LINK.findall(html[cleo["email"]])
    unknown = "5f0c7a39-2d0e-4f58-9b1c-3a7d2e8f6b10"
    assert (await visitor.get(f"/campaign/{unknown}/{cleo['uuid']}")).status_code == 404
    assert (await visitor.get(f"/campaign/{created['uuid']}/{unknown}")).status_code == 404
    assert (await visitor.get(f"/campaign/nope/{cleo['uuid']}")).status_code == 400
    assert (await visitor.get(f"/link/{unknown}/{created['uuid']}/{DUMMY}")).status_code == 400


async def test_with_individual_tracking_off_hits_count_without_the_subscriber(
        stack: SenderStack, api: httpx.AsyncClient, visitor: httpx.AsyncClient,
        smtp: SMTPTestServer) -> None:
    await configure(stack, api, smtp, individual=False, disabled=False)
    created, people, html = await send(stack, api, smtp, ("Dan Brown",))
    (dan,) = people
    body = html[dan["email"]]
    links = LINK.findall(body)
    assert links and all(path.endswith(f"/{created['uuid']}/{DUMMY}") for path in links)
    assert PIXEL.findall(body) == [f"/campaign/{created['uuid']}/{DUMMY}/px.png"]
    for path in [*links, *PIXEL.findall(body)]:
        assert (await visitor.get(path)).status_code in (200, 307)

    async def counted() -> bool:
        got = await campaign(api, created["id"])
        return bool((got["views"], got["clicks"]) == (1, len(links)))

    await eventually(counted)
    params = {"id": str(created["id"]), **window()}
    clicks = (await api.get("/api/campaigns/analytics/clicks", params=params)).json()["data"]
    assert sum(c["count"] for c in clicks) == len(links)  # hits, as listmonk counts them
    activity = (await api.get(f"/api/subscribers/{dan['id']}/activity")).json()["data"]
    assert activity == {"campaign_views": [], "link_clicks": []}


async def test_with_tracking_disabled_links_go_straight_and_nothing_is_recorded(
        stack: SenderStack, api: httpx.AsyncClient, visitor: httpx.AsyncClient,
        smtp: SMTPTestServer) -> None:
    await configure(stack, api, smtp, individual=True, disabled=False)
    tracked, _, tracked_html = await send(stack, api, smtp, ("Eve Tracked",))
    old_link = LINK.findall(next(iter(tracked_html.values())))[0]
    await configure(stack, api, smtp, individual=True, disabled=True)
    _, people, html = await send(stack, api, smtp, ("Fay Private",))
    body = html[people[0]["email"]]
    assert not LINK.findall(body) and not PIXEL.findall(body)
    assert 'href="https://example.com/a"' in body
    assert 'href="https://example.com/b?x=1&amp;' in body  # as written (listmonk escapes it)
    await recorder(stack).flush(final=True)
    before = await tracking_events(stack)
    # A link of an earlier mail still leads to its target; the pixel is still an image.
    response = await visitor.get(old_link)
    assert (response.status_code, response.headers["location"]) == (307,
                                                                   "https://example.com/a")
    pixel = await visitor.get(f"/campaign/{tracked['uuid']}/{DUMMY}/px.png")
    assert pixel.status_code == 200
    await recorder(stack).flush(final=True)
    assert await tracking_events(stack) == before
    await configure(stack, api, smtp, individual=True, disabled=False)


async def test_a_link_replayed_a_thousand_times_is_counted_in_two_writes(
        stack: SenderStack, api: httpx.AsyncClient, visitor: httpx.AsyncClient,
        smtp: SMTPTestServer) -> None:
    await configure(stack, api, smtp, individual=True, disabled=False)
    created, _, html = await send(stack, api, smtp, ("Gus Bot",))
    link = LINK.findall(next(iter(html.values())))[0]
    await recorder(stack).flush(final=True)
    before = await tracking_events(stack)
    for _ in range(1000):
        assert (await visitor.get(link)).status_code == 307
    await recorder(stack).flush(final=True)  # closes the dedupe window (at shutdown too)
    # the first hit, then the 999 repeats of its window as one event (one event in all when
    # the window closed before the first hit's flush)
    assert await tracking_events(stack) - before in (1, 2)

    async def counted() -> bool:
        return bool((await campaign(api, created["id"]))["clicks"] == 1000)

    await eventually(counted)
    params = {"id": str(created["id"]), **window()}
    by_link = (await api.get("/api/campaigns/analytics/links", params=params)).json()["data"]
    assert by_link == [{"url": "https://example.com/a", "count": 1}]  # one subscriber


async def test_analytics_refuse_what_listmonk_refuses(api: httpx.AsyncClient) -> None:
    base = "/api/campaigns/analytics"
    cases = [
        (f"{base}/views", {"from": "2024-01-01", "to": "2024-01-02"}, "Missing field(s): `id`"),
        (f"{base}/views", {"id": "1,2", "from": "2024-01-01", "to": "2024-01-02"},
         'One or more IDs are invalid: strconv.Atoi: parsing "1,2": invalid syntax'),
        (f"{base}/views", {"id": "1", "from": "yesterday", "to": "2024-01-02"},
         "Invalid `from` or `to` dates."),
        (f"{base}/opens", {"id": "1", "from": "2024-01-01", "to": "2024-01-02"},
         "Invalid data"),
    ]
    for path, params, message in cases:
        response = await api.get(path, params=params)
        assert (response.status_code, response.json()) == (400, {"message": message})
    ok = await api.get(f"{base}/views", params={"id": ["1", "2"], "from": "2024-01-01",
                                                "to": "2024-01-02"})
    assert ok.json() == {"data": []}
