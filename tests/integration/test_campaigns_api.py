"""The Campaigns API through HTTP, with the relay, projector and scheduler running.

The database is shared by the session, so each test tags its campaigns with a tag of its own
and looks only at those.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from kernel.settings import Settings
from projections.campaigns import CampaignsProjection
from projections.rebuild import rebuild
from services.command_api.campaigns.scheduled import start_scheduled as start_due
from services.command_api.templates.seed import ensure_default_templates
from services.runtime import Runtime
from tests.integration.subscribers_support import (
    TIMESTAMP,
    event_count,
    eventually,
    make_list,
    scalar,
)

CAMPAIGN_KEYS = [
    "id", "created_at", "updated_at", "views", "clicks", "bounces", "lists", "media",
    "started_at", "to_send", "sent", "uuid", "type", "name", "subject", "from_email", "body",
    "body_source", "altbody", "send_at", "status", "content_type", "tags", "headers", "attribs",
    "template_id", "messenger", "archive", "archive_slug", "archive_template_id", "archive_meta"]


@pytest.fixture
async def default_template(runtime: Runtime, api: httpx.AsyncClient) -> AsyncIterator[int]:
    """The id of the default campaign template (seeded as at start-up)."""
    await ensure_default_templates(runtime.pool)

    async def seeded() -> bool:
        response = await api.get("/api/templates")
        return response.status_code == 200 and any(
            t["is_default"] for t in response.json()["data"])

    await eventually(seeded, within=60)
    templates = (await api.get("/api/templates")).json()["data"]
    yield next(t["id"] for t in templates if t["is_default"])


def tag() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def future(seconds: float = 86400) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def create(api: httpx.AsyncClient, lists: list[int], **fields: Any) -> dict[str, Any]:
    body = {"name": "Test campaign", "subject": "Hello, world", "lists": lists, **fields}
    response = await api.post("/api/campaigns", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def set_status(api: httpx.AsyncClient, campaign_id: int, status: str) -> httpx.Response:
    return await api.put(f"/api/campaigns/{campaign_id}/status", json={"status": status})


async def test_seed_example_creates_a_draft_that_get_shows(
        api: httpx.AsyncClient, default_template: int) -> None:
    lst = await make_list(api, name="Default list")
    body = ('{"name":"Test campaign","subject":"Hello, world","lists":[LIST],'
            '"from_email":"listmonk <noreply@listmonk.yoursite.com>","content_type":"richtext",'
            '"messenger":"email","type":"regular","tags":["test"],"template_id":TEMPLATE}'
            ).replace("LIST", str(lst["id"])).replace("TEMPLATE", str(default_template))
    response = await api.post("/api/campaigns", content=body.encode(), headers={
        "Content-Type": "application/json;charset=utf-8"})
    assert response.status_code == 200, response.text
    created = response.json()["data"]
    assert list(created) == CAMPAIGN_KEYS
    assert {k: created[k] for k in ("views", "clicks", "bounces", "lists", "started_at",
                                    "to_send", "sent", "type", "name", "subject", "from_email",
                                    "body", "altbody", "send_at", "status", "content_type",
                                    "tags", "headers", "template_id", "messenger")} == {
        "views": 0, "clicks": 0, "bounces": 0,
        "lists": [{"id": lst["id"], "name": "Default list"}], "started_at": None,
        "to_send": 0, "sent": 0, "type": "regular", "name": "Test campaign",
        "subject": "Hello, world", "from_email": "listmonk <noreply@listmonk.yoursite.com>",
        "body": "", "altbody": None, "send_at": None, "status": "draft",
        "content_type": "richtext", "tags": ["test"], "headers": [],
        "template_id": default_template, "messenger": "email"}
    assert uuid.UUID(created["uuid"]) and TIMESTAMP.match(created["created_at"])
    fetched = await api.get(f"/api/campaigns/{created['id']}")  # read-your-writes
    assert fetched.json() == {"data": created}


async def test_nulls_take_listmonks_defaults(api: httpx.AsyncClient, default_template: int,
                                             settings: Settings) -> None:
    lst = await make_list(api)
    created = await create(api, [lst["id"]], type=None, content_type=None, messenger=None,
                           template_id=None, from_email=None, tags=None, headers=None)
    assert (created["type"], created["content_type"], created["messenger"],
            created["template_id"], created["from_email"], created["tags"],
            created["headers"]) == ("regular", "richtext", "email", default_template,
                                    settings.from_email, [], [])


async def test_list_names_are_copied_and_survive_the_lists_deletion(
        api: httpx.AsyncClient, default_template: int) -> None:
    kept, doomed = await make_list(api, name="Kept"), await make_list(api, name="Doomed")
    created = await create(api, [doomed["id"], kept["id"]])
    assert (await api.delete(f"/api/lists/{doomed['id']}")).json() == {"data": True}
    fetched = (await api.get(f"/api/campaigns/{created['id']}")).json()["data"]
    assert fetched["lists"] == [{"id": doomed["id"], "name": "Doomed"},
                                {"id": kept["id"], "name": "Kept"}]
    # the deleted list may stay on the campaign when it is edited
    response = await api.put(f"/api/campaigns/{created['id']}",
                             json={"lists": [doomed["id"], kept["id"]], "name": "Renamed"})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["lists"] == fetched["lists"]


@pytest.mark.parametrize(("change", "message"), [
    ({"name": ""}, "Invalid length for name."),
    ({"subject": ""}, "Invalid length for subject."),
    ({"lists": []}, "Invalid list IDs."),
    ({"lists": [999999999]}, "Invalid list IDs."),
    ({"send_at": "2020-01-01T00:00:00Z"}, "Scheduled date should be in the future."),
    ({"from_email": "nobody"}, "Invalid `from_email`."),
    ({"messenger": "pigeon"}, "Unknown messenger pigeon."),
    ({"template_id": 999999999}, "Template not found"),
    ({"type": "weekly"}, "Invalid campaign type: 'weekly' (one of regular, optin)"),
    ({"name": 5}, "Unmarshal type error: expected=string, got=number, field=name"),
])
async def test_invalid_creates_are_400s_that_append_nothing(
        api: httpx.AsyncClient, runtime: Runtime, default_template: int,
        change: dict[str, Any], message: str) -> None:
    lst = await make_list(api)
    before = await event_count(runtime)
    body = {"name": "n", "subject": "s", "lists": [lst["id"]], **change}
    response = await api.post("/api/campaigns", json=body)
    assert (response.status_code, response.json()) == (400, {"message": message})
    assert await event_count(runtime) == before


async def test_listing_filters_orders_pages_and_drops_bodies(
        api: httpx.AsyncClient, default_template: int) -> None:
    lst, label = await make_list(api), tag()
    first = await create(api, [lst["id"]], name="Alpha news", body="<p>a</p>", tags=[label])
    second = await create(api, [lst["id"]], name="Beta letter", subject="Weekly digest",
                          tags=[label, "extra"])
    assert (await set_status(api, second["id"], "running")).status_code == 200

    async def names(**params: Any) -> list[str]:
        response = await api.get("/api/campaigns", params={"tag": label, **params})
        assert response.status_code == 200, response.text
        return [c["name"] for c in response.json()["data"]["results"]]

    assert await names() == ["Beta letter", "Alpha news"]  # newest first
    assert await names(order_by="name", order="asc") == ["Alpha news", "Beta letter"]
    assert await names(order_by="name", order="ASC") == ["Alpha news", "Beta letter"]
    assert await names(status="running") == ["Beta letter"]
    assert await names(status=["draft", "running"]) == ["Beta letter", "Alpha news"]
    assert await names(tags="extra") == ["Beta letter"]
    assert await names(query="digest") == ["Beta letter"]
    assert await names(query="alpha") == ["Alpha news"]
    page = (await api.get("/api/campaigns", params={"tag": label, "per_page": 1, "page": 2,
                                                    "order_by": "name"})).json()["data"]
    assert (page["total"], page["per_page"], page["page"], page["query"]) == (2, 1, 2, "")
    assert [c["name"] for c in page["results"]] == ["Alpha news"]
    listed = (await api.get("/api/campaigns", params={"tag": label, "no_body": "true"})
              ).json()["data"]["results"]
    assert all(c["body"] == "" for c in listed) and len(listed) == 2
    one = (await api.get(f"/api/campaigns/{first['id']}?no_body=true")).json()["data"]
    assert one["body"] == "" and one["name"] == "Alpha news"
    empty = (await api.get("/api/campaigns", params={"tag": tag()})).json()
    assert empty == {"data": {"results": [], "search": "", "query": "", "total": 0,
                              "per_page": 0, "page": 0}}


async def test_unknown_and_invalid_ids(api: httpx.AsyncClient) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await api.request(method, "/api/campaigns/999999999", json={"lists": [1]})
        assert (response.status_code, response.json()) == (
            404, {"message": "Campaign not found"}), method
        response = await api.request(method, "/api/campaigns/0")
        assert (response.status_code, response.json()) == (400, {"message": "invalid ID"})
    response = await set_status(api, 999999999, "running")
    assert response.status_code == 404


async def test_update_keeps_what_is_not_sent_and_needs_the_lists(
        api: httpx.AsyncClient, default_template: int) -> None:
    lst, other = await make_list(api), await make_list(api, name="Other")
    created = await create(api, [lst["id"]], body="<p>hi</p>", altbody="alt", tags=["a"])
    path = f"/api/campaigns/{created['id']}"
    response = await api.put(path, json={"name": "Renamed"})
    assert (response.status_code, response.json()) == (400, {"message": "Invalid list IDs."})
    response = await api.put(path, json={"name": "Renamed", "lists": [other["id"]],
                                         "altbody": None})
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert (updated["name"], updated["subject"], updated["body"], updated["altbody"],
            updated["tags"], updated["lists"]) == (
        "Renamed", "Hello, world", "<p>hi</p>", None, ["a"],
        [{"id": other["id"], "name": "Other"}])
    assert updated["created_at"] == created["created_at"]
    assert (await api.get(path)).json() == {"data": updated}


async def test_clearing_send_at_unschedules_and_running_campaigns_are_read_only(
        api: httpx.AsyncClient, default_template: int) -> None:
    lst = await make_list(api)
    created = await create(api, [lst["id"]], send_at=future())
    path = f"/api/campaigns/{created['id']}"
    scheduled = await set_status(api, created["id"], "scheduled")
    assert scheduled.json()["data"]["status"] == "scheduled"
    response = await api.put(path, json={"lists": [lst["id"]], "send_at": None})
    assert response.json()["data"]["status"] == "draft"
    assert (await set_status(api, created["id"], "running")).json()["data"]["status"] == (
        "running")
    response = await api.put(path, json={"lists": [lst["id"]], "name": "x"})
    assert (response.status_code, response.json()) == (
        400, {"message": "Cannot update a running or a finished campaign."})


async def test_the_state_machine_through_http(api: httpx.AsyncClient, runtime: Runtime,
                                              default_template: int) -> None:
    lst = await make_list(api)
    created = await create(api, [lst["id"]])
    cid = created["id"]
    refused = await set_status(api, cid, "scheduled")
    assert (refused.status_code, refused.json()) == (
        400, {"message": "Campaign needs a date to be scheduled."})
    for status, message in [("paused", "Only active campaigns can be paused."),
                            ("cancelled", "Only active campaigns can be cancelled."),
                            ("draft", "Only scheduled campaigns can be saved as drafts.")]:
        before = await event_count(runtime)
        response = await set_status(api, cid, status)
        assert (response.status_code, response.json()) == (400, {"message": message})
        assert await event_count(runtime) == before
    running = (await set_status(api, cid, "running")).json()["data"]
    assert running["status"] == "running" and TIMESTAMP.match(running["started_at"])
    assert (await set_status(api, cid, "paused")).json()["data"]["status"] == "paused"
    resumed = (await set_status(api, cid, "running")).json()["data"]
    assert (resumed["status"], resumed["started_at"]) == ("running", running["started_at"])
    assert (await set_status(api, cid, "cancelled")).json()["data"]["status"] == "cancelled"
    response = await set_status(api, cid, "running")
    assert response.json() == {"message": "Only paused campaigns and drafts can be started."}
    types = await scalar(runtime, "SELECT array_agg(type ORDER BY version) FROM eventlog.events"
                         " WHERE stream_id = %s", f"campaign-{cid}")
    assert types == ["campaign.created", "campaign.started", "campaign.paused",
                     "campaign.resumed", "campaign.cancelled"]


async def test_status_seed_example_and_running_with_a_future_send_at_schedules(
        api: httpx.AsyncClient, default_template: int) -> None:
    lst = await make_list(api)
    created = await create(api, [lst["id"]], send_at=future())
    response = await api.put(f"/api/campaigns/{created['id']}/status",
                             headers={"Content-Type": "application/json"},
                             content=b'{"status":"scheduled"}')
    assert response.status_code == 200 and response.json()["data"]["status"] == "scheduled"
    assert (await set_status(api, created["id"], "draft")).json()["data"]["status"] == "draft"
    asked = await set_status(api, created["id"], "running")
    assert asked.json()["data"]["status"] == "scheduled"


async def subscribe(api: httpx.AsyncClient, lists: list[int], **fields: Any) -> int:
    body = {"email": f"c.{uuid.uuid4().hex[:10]}@example.com", "lists": lists, **fields}
    response = await api.post("/api/subscribers", json=body)
    assert response.status_code == 200, response.text
    return int(response.json()["data"]["id"])


async def test_starting_counts_to_send_as_listmonk_and_records_it_for_the_sender(
        api: httpx.AsyncClient, runtime: Runtime, default_template: int) -> None:
    single, double = await make_list(api, optin="single"), await make_list(api, optin="double")
    await subscribe(api, [single["id"]])  # counts
    await subscribe(api, [double["id"]])  # unconfirmed on a double opt-in list: optin only
    await subscribe(api, [double["id"]], preconfirm_subscriptions=True)  # counts
    both = await subscribe(api, [single["id"], double["id"]],
                           preconfirm_subscriptions=True)  # counts once
    await subscribe(api, [single["id"]], status="blocklisted")  # never
    gone = await subscribe(api, [single["id"]])
    response = await api.put("/api/subscribers/lists", json={
        "ids": [gone], "action": "unsubscribe", "target_list_ids": [single["id"]]})
    assert response.status_code == 200, response.text
    lists = [single["id"], double["id"]]
    regular = await create(api, lists)
    started = (await set_status(api, regular["id"], "running")).json()["data"]
    assert started["to_send"] == 3
    optin = await create(api, lists, type="optin")
    assert "{{ OptinURL }}" in optin["body"]
    assert (await set_status(api, optin["id"], "running")).json()["data"]["to_send"] == 1
    data = await scalar(runtime, "SELECT data FROM eventlog.events WHERE stream_id = %s"
                        " AND type = 'campaign.started'", f"campaign-{regular['id']}")
    assert (data["list_ids"], data["to_send"], data["template_id"], data["campaign_type"],
            data["uuid"], data["max_subscriber_id"]) == (
        lists, 3, default_template, "regular", regular["uuid"], both)  # the last one counted
    assert data["started_at"] == data["at"]


async def test_the_scheduler_starts_a_campaign_when_send_at_passes(
        api: httpx.AsyncClient, runtime: Runtime, default_template: int) -> None:
    lst = await make_list(api)
    created = await create(api, [lst["id"]], send_at=future(1.5))
    assert (await set_status(api, created["id"], "scheduled")).status_code == 200

    async def running() -> bool:
        found = (await api.get(f"/api/campaigns/{created['id']}")).json()["data"]
        return bool(found["status"] == "running")

    await eventually(running, within=20)
    started = await scalar(runtime, "SELECT count(*) FROM eventlog.events WHERE stream_id = %s"
                           " AND type = 'campaign.started'", f"campaign-{created['id']}")
    assert started == 1


async def test_archive_seed_example(api: httpx.AsyncClient, default_template: int) -> None:
    lst = await make_list(api)
    created = await create(api, [lst["id"]])
    slug = f"My newsletter old edition {uuid.uuid4().hex[:6]}"
    response = await api.put(f"/api/campaigns/{created['id']}/archive", json={
        "archive": True, "archive_template_id": default_template, "archive_meta": {},
        "archive_slug": slug})
    assert response.status_code == 200, response.text
    expected_slug = slug.lower().replace(" ", "-")
    assert response.json() == {"data": {"archive": True,
                                        "archive_template_id": default_template,
                                        "archive_meta": {}, "archive_slug": expected_slug}}
    fetched = (await api.get(f"/api/campaigns/{created['id']}")).json()["data"]
    assert (fetched["archive"], fetched["archive_slug"], fetched["archive_template_id"],
            fetched["archive_meta"]) == (True, expected_slug, default_template, {})
    other = await create(api, [lst["id"]])
    response = await api.put(f"/api/campaigns/{other['id']}/archive",
                              json={"archive": True, "archive_slug": slug})
    assert response.status_code == 409


async def test_delete_one_and_many(api: httpx.AsyncClient, runtime: Runtime,
                                   default_template: int) -> None:
    lst = await make_list(api)
    doomed = await create(api, [lst["id"]])
    path = f"/api/campaigns/{doomed['id']}"
    assert (await api.delete(path)).json() == {"data": True}
    assert (await api.get(path)).status_code == 404
    assert (await api.delete(path)).status_code == 404
    word = uuid.uuid4().hex[:12]
    by_query = [await create(api, [lst["id"]], name=f"bulk {word} {i}") for i in range(2)]
    by_id = await create(api, [lst["id"]])
    response = await api.delete("/api/campaigns", params={"id": [by_id["id"], 999999999]})
    assert response.json() == {"data": True}
    response = await api.delete("/api/campaigns", params={"query": word})
    assert response.json() == {"data": True}
    for gone in [by_id, *by_query]:
        assert (await api.get(f"/api/campaigns/{gone['id']}")).status_code == 404
    response = await api.delete("/api/campaigns")
    assert (response.status_code, response.json()) == (
        400, {"message": "One or more IDs are invalid: id or query required"})
    response = await api.delete("/api/campaigns", params={"id": "x"})
    assert response.status_code == 400


async def test_running_stats(api: httpx.AsyncClient, default_template: int) -> None:
    lst = await make_list(api)
    created = await create(api, [lst["id"]])
    idle = await api.get("/api/campaigns/running/stats", params={"campaign_id": created["id"]})
    assert idle.json() == {"data": []}
    await set_status(api, created["id"], "running")
    stats = (await api.get("/api/campaigns/running/stats",
                           params={"campaign_id": created["id"]})).json()["data"]
    assert len(stats) == 1
    assert list(stats[0]) == ["id", "status", "to_send", "sent", "started_at", "updated_at",
                              "rate", "net_rate"]
    assert (stats[0]["id"], stats[0]["status"], stats[0]["sent"]) == (
        created["id"], "running", 0)


async def test_analytics_seed_examples_and_errors(api: httpx.AsyncClient) -> None:
    for kind, params in [("views", "id=1&from=2024-08-04&to=2024-08-12"),
                         ("links", "id=1&from=2024-08-04T18%3A30%3A00.624Z"
                                   "&to=2024-08-12T18%3A29%3A00.624Z"),
                         ("clicks", "id=1&id=2&from=2024-08-04&to=2024-08-12"),
                         ("bounces", "id=1&from=2024-08-04&to=2024-08-12")]:
        response = await api.get(f"/api/campaigns/analytics/{kind}?{params}")
        assert response.json() == {"data": []}, kind
    for query, message in [("from=2024-08-04&to=2024-08-12", "Missing field(s): `id`"),
                           ("id=x&from=2024-08-04&to=2024-08-12",
                            'One or more IDs are invalid: strconv.Atoi: parsing "x": invalid'
                            " syntax"),
                           ("id=1&from=2024&to=2024-08-12", "Invalid `from` or `to` dates.")]:
        response = await api.get(f"/api/campaigns/analytics/views?{query}")
        assert (response.status_code, response.json()) == (400, {"message": message})
    response = await api.get("/api/campaigns/analytics/opens?id=1&from=2024-08-04&to=2024-08-12")
    assert response.json() == {"message": "Invalid data"}


async def test_endpoints_need_credentials(anon: httpx.AsyncClient) -> None:
    for method, path in [("GET", "/api/campaigns"), ("GET", "/api/campaigns/1"),
                         ("POST", "/api/campaigns"), ("PUT", "/api/campaigns/1"),
                         ("PUT", "/api/campaigns/1/status"), ("PUT", "/api/campaigns/1/archive"),
                         ("DELETE", "/api/campaigns/1"), ("DELETE", "/api/campaigns"),
                         ("GET", "/api/campaigns/running/stats"),
                         ("GET", "/api/campaigns/analytics/views")]:
        response = await anon.request(method, path)
        assert response.status_code == 403, (method, path)


async def test_concurrent_schedulers_start_a_due_campaign_exactly_once(
        api: httpx.AsyncClient, runtime: Runtime, default_template: int) -> None:
    lst = await make_list(api)
    created = await create(api, [lst["id"]], send_at=future())
    assert (await set_status(api, created["id"], "scheduled")).status_code == 200
    due = datetime.fromisoformat(created["send_at"]) + timedelta(seconds=1)
    results = await asyncio.gather(*(start_due(runtime.pool, created["id"], due)
                                     for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    started = await scalar(runtime, "SELECT count(*) FROM eventlog.events WHERE stream_id = %s"
                           " AND type = 'campaign.started'", f"campaign-{created['id']}")
    assert started == 1


async def test_deleting_a_template_moves_its_campaigns_to_the_default(
        api: httpx.AsyncClient, default_template: int) -> None:
    lst = await make_list(api)
    response = await api.post("/api/templates", json={
        "name": f"t-{uuid.uuid4().hex[:8]}", "type": "campaign",
        "body": '<div>{{ template "content" . }}</div>'})
    assert response.status_code == 200, response.text
    template = response.json()["data"]["id"]
    created = await create(api, [lst["id"]], template_id=template)
    assert created["template_id"] == template
    assert (await api.delete(f"/api/templates/{template}")).status_code == 200

    async def moved() -> bool:
        found = (await api.get(f"/api/campaigns/{created['id']}")).json()["data"]
        return bool(found["template_id"] == default_template)

    await eventually(moved)
    # the campaign still edits and starts with the default template
    response = await api.put(f"/api/campaigns/{created['id']}", json={"lists": [lst["id"]]})
    assert response.json()["data"]["template_id"] == default_template


async def test_idempotent_create_answers_the_same_campaign_once(
        api: httpx.AsyncClient, runtime: Runtime, default_template: int) -> None:
    lst = await make_list(api)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"name": "Once", "subject": "s", "lists": [lst["id"]]}
    first = await api.post("/api/campaigns", json=body, headers=headers)
    before = await event_count(runtime)
    second = await api.post("/api/campaigns", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert await event_count(runtime) == before


async def test_rebuilding_the_projection_gives_the_same_answers(
        api: httpx.AsyncClient, runtime: Runtime, default_template: int) -> None:
    lst, label = await make_list(api), tag()
    first = await create(api, [lst["id"]], tags=[label], headers=[{"X-A": "1"}])
    await set_status(api, first["id"], "running")
    await create(api, [lst["id"]], tags=[label], send_at=future())
    before = (await api.get("/api/campaigns", params={"tag": label})).json()
    await rebuild(runtime.settings, runtime.pool, CampaignsProjection(), progress=False)
    assert (await api.get("/api/campaigns", params={"tag": label})).json() == before


SEED_BODY = ("<h3>Hi {{ .Subscriber.FirstName }}!</h3>\n\t\t\tThis is a test e-mail campaign."
             " Your second name is {{ .Subscriber.LastName }} and you are from"
             " {{ .Subscriber.Attribs.city }}.")


async def test_preview_renders_the_body_in_its_template_for_the_dummy_subscriber(
        api: httpx.AsyncClient, default_template: int) -> None:
    lst = await make_list(api)
    created = await create(api, [lst["id"]], body=SEED_BODY)
    response = await api.get(f"/api/campaigns/{created['id']}/preview")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "<h3>Hi Demo!</h3>" in response.text
    assert "Your second name is Subscriber and you are from Bengaluru." in response.text
    assert "<html" in response.text.lower()  # wrapped in the default template
    posted = await api.post(f"/api/campaigns/{created['id']}/preview",
                            data={"content_type": "markdown",
                                  "body": "# Hello {{ .Campaign.Name }}"})
    assert posted.status_code == 200, posted.text
    assert "Hello Test campaign</h1>" in posted.text
    text = await api.post(f"/api/campaigns/{created['id']}/text",
                          data={"content_type": "plain", "body": "Hi {{ .Subscriber.Name }}",
                                "template_id": "0"})
    assert text.headers["content-type"].startswith("text/plain")
    assert "Hi Demo Subscriber" in text.text
    broken = await api.post(f"/api/campaigns/{created['id']}/preview",
                            data={"content_type": "html", "body": "{{ if }}"})
    assert broken.status_code == 400 and broken.json()["message"].startswith(
        "Error compiling template: ")
    assert (await api.get("/api/campaigns/999999999/preview")).status_code == 404
