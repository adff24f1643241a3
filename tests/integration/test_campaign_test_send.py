"""``POST /api/campaigns/:id/test`` through HTTP: the campaign as posted, queued per subscriber."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import pytest

from events.messages import CampaignTestQueued
from services.command_api.templates.seed import ensure_default_templates
from services.runtime import Runtime
from services.sender.message import build_mime
from tests.integration.messages_support import correlated, make_template, open_queued, queued
from tests.integration.subscribers_support import (
    create,
    event_count,
    eventually,
    make_list,
    unique_email,
)

DEFAULT_BODY = '<!doctype html><html><body>{{ template "content" . }}</body></html>'
BODY = "<p>Hello {{ .Subscriber.FirstName }} of {{ .Subscriber.Attribs.city }}</p>"


@pytest.fixture
async def default_template(runtime: Runtime, api: httpx.AsyncClient) -> AsyncIterator[int]:
    """The default campaign template: the install's (seeded now unless the log already had
    templates), else one made default here."""

    async def current() -> int | None:
        response = await api.get("/api/templates")
        assert response.status_code == 200, response.text
        return next((t["id"] for t in response.json()["data"] if t["is_default"]), None)

    if await ensure_default_templates(runtime.pool):
        await eventually(lambda: _is_set(current()), within=60)
    found = await current()
    if found is None:
        made = await make_template(api, type="campaign", body=DEFAULT_BODY)
        response = await api.put(f"/api/templates/{made['id']}/default")
        assert response.status_code == 200, response.text
        found = made["id"]
    yield found


async def _is_set(value: Awaitable[int | None]) -> bool:
    return await value is not None


@pytest.fixture
async def campaign(api: httpx.AsyncClient, default_template: int) -> dict[str, Any]:
    lst = await make_list(api)
    response = await api.post("/api/campaigns", json={
        "name": "Spring", "subject": "Spring for {{ .Subscriber.FirstName }}",
        "lists": [lst["id"]], "body": BODY, "content_type": "html",
        "headers": [{"X-City": "{{ .Subscriber.Attribs.city }}"}]})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _fields(campaign: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The campaign's fields as a client posts them for a test (as the listmonk UI does)."""
    fields = {k: campaign[k] for k in ("name", "subject", "from_email", "body", "altbody",
                                       "content_type", "messenger", "headers", "template_id")}
    fields["lists"] = [entry["id"] for entry in campaign["lists"]]
    fields.update(changes)
    return fields


async def test_the_campaign_as_posted_is_queued_for_each_known_subscriber(
        api: httpx.AsyncClient, runtime: Runtime, campaign: dict[str, Any]) -> None:
    ana = await create(api, name="Ana Lima", attribs={"city": "Porto"})
    cid, headers = correlated()
    posted = _fields(campaign, body=BODY + "<p>draft edit</p>",
                     subscribers=[f"  {ana['email'].upper()} ", unique_email("nobody")])
    response = await api.post(f"/api/campaigns/{campaign['id']}/test", json=posted,
                              headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": True}

    [(event, raw)] = await queued(runtime, cid)
    assert isinstance(event, CampaignTestQueued)
    assert (event.campaign_id, event.campaign_uuid, event.subscriber_id) == (
        campaign["id"], campaign["uuid"], ana["id"])
    assert ana["email"] not in str(raw) and "Porto" not in str(raw)
    content = await open_queued(runtime, event)
    assert content is not None
    assert content.to == [ana["email"]]
    assert content.subject == "Spring for Ana"
    assert "<p>Hello Ana of Porto</p><p>draft edit</p>" in content.body
    assert "<!doctype html>" in content.body.lower()  # inside the default template
    headers_by_name = dict(content.headers)
    assert headers_by_name["X-Listmonk-Campaign"] == campaign["uuid"]
    assert headers_by_name["X-City"] == "Porto"
    unsubscribe = f"/subscription/{campaign['uuid']}/{headers_by_name['X-Listmonk-Subscriber']}"
    assert headers_by_name["List-Unsubscribe"].endswith(unsubscribe + ">")

    # What the sender will build from it.
    mail = build_mime(content, from_email=event.from_email, content_type=event.content_type,
                      message_id=event.message_id)
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Spring for Ana" and parsed["X-City"] == "Porto"
    assert parsed.get_content_type() == "text/html"  # no altbody: no text part, as listmonk

    stored = (await api.get(f"/api/campaigns/{campaign['id']}")).json()["data"]
    assert stored["body"] == BODY


async def test_fields_left_out_keep_the_stored_campaign(
        api: httpx.AsyncClient, runtime: Runtime, campaign: dict[str, Any]) -> None:
    sub = await create(api, name="Bob Berg", attribs={"city": "Oslo"})
    plain = await make_template(api, type="campaign",
                                body='<section>{{ template "content" . }}</section>')
    cid, headers = correlated()
    response = await api.post(f"/api/campaigns/{campaign['id']}/test", headers=headers,
                              json={"subscribers": [sub["email"]], "template_id": plain["id"]})
    assert response.status_code == 200, response.text
    [(event, _)] = await queued(runtime, cid)
    content = await open_queued(runtime, event)
    assert content is not None and event.template_id == plain["id"]
    assert content.body == "<section><p>Hello Bob of Oslo</p></section>"


@pytest.mark.parametrize(("changes", "status", "message"), [
    ({"subscribers": []}, 400, "There are no subscribers to target."),
    ({"subscribers": ["nobody-at-all@example.com"]}, 400, "No known subscribers to test."),
    ({"name": "", "subscribers": ["x@example.com"]}, 400, "Invalid length for name."),
    ({"lists": [999999999], "subscribers": ["x@example.com"]}, 400, "Invalid list IDs."),
    ({"template_id": 999999999, "subscribers": ["x@example.com"]}, 400, "Template not found"),
    ({"body": "{{ if }}", "subscribers": ["x@example.com"]}, 400,
     "Error compiling campaign body: "),
])
async def test_refusals_queue_nothing(api: httpx.AsyncClient, runtime: Runtime,
                                      campaign: dict[str, Any], changes: dict[str, Any],
                                      status: int, message: str) -> None:
    before = await event_count(runtime)
    response = await api.post(f"/api/campaigns/{campaign['id']}/test",
                              json=_fields(campaign, **changes))
    assert response.status_code == status, response.text
    assert response.json()["message"].startswith(message)
    assert await event_count(runtime) == before


async def test_render_errors_and_unknown_campaigns(api: httpx.AsyncClient, runtime: Runtime,
                                                   campaign: dict[str, Any]) -> None:
    sub = await create(api)
    before = await event_count(runtime)
    response = await api.post(f"/api/campaigns/{campaign['id']}/test", json=_fields(
        campaign, body="{{ .Subscriber.Nope }}", subscribers=[sub["email"]]))
    assert response.status_code == 400
    assert response.json()["message"].startswith("Error rendering message: ")
    response = await api.post("/api/campaigns/999999999/test",
                              json={"subscribers": [sub["email"]]})
    assert (response.status_code, response.json()) == (404, {"message": "Campaign not found"})
    assert await event_count(runtime) == before


async def test_needs_authentication(anon: httpx.AsyncClient) -> None:
    response = await anon.post(f"/api/campaigns/1/test?x={uuid.uuid4()}", json={})
    assert response.status_code in (401, 403)
