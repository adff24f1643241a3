"""``POST /api/tx`` through HTTP: what is queued for the sender, and listmonk's refusals."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import pytest

from events.message_storage import AttachmentFile, erase_address
from events.messages import TxMessageQueued
from services.command_api.templates.seed import ensure_default_templates
from services.runtime import Runtime
from tests.integration.messages_support import (
    correlated,
    make_template,
    open_attachments,
    open_queued,
    queued,
)
from tests.integration.subscribers_support import create, event_count, unique_email

BODY = ("<p>Hi {{ .Subscriber.Name }}, order {{ .Tx.Data.order_id }}"
        " ({{ len .Tx.Data.items }} items) for {{ .Subscriber.Email }}</p>")
SUBJECT = "Order {{ .Tx.Data.order_id }} for {{ .Subscriber.FirstName }}"


@pytest.fixture(autouse=True)
async def _default_templates_first(runtime: Runtime) -> None:
    """Record the install's templates before these tests add theirs: seeding only happens in
    a log without templates, and other modules' fixtures expect the default template."""
    await ensure_default_templates(runtime.pool)


@pytest.fixture
async def template(api: httpx.AsyncClient) -> dict[str, Any]:
    return await make_template(api, subject=SUBJECT, body=BODY)


async def _send(api: httpx.AsyncClient, http_headers: dict[str, str] | None = None,
                **fields: Any) -> httpx.Response:
    return await api.post("/api/tx", json=fields, headers=http_headers)


async def test_a_message_to_a_subscriber_is_rendered_and_queued_sealed(
        api: httpx.AsyncClient, runtime: Runtime, template: dict[str, Any]) -> None:
    ana = await create(api, name="Ana Lima", email=unique_email("ana"))
    cid, headers = correlated()
    response = await _send(api, headers, subscriber_email=ana["email"].upper(),
                           template_id=template["id"],
                           data={"order_id": "A-17", "items": [1, 2, 3]},
                           headers=[{"X-Order": "A-17"}], content_type="html",
                           altbody="Order {{ .Tx.Data.order_id }}")
    assert response.status_code == 200, response.text
    assert response.json() == {"data": True}

    [(event, raw)] = await queued(runtime, cid)
    assert (event.subscriber_id, event.template_id, event.messenger, event.content_type) == (
        ana["id"], template["id"], "email", "html")
    assert event.from_email == runtime.settings.from_email
    assert raw["sealed_with"] == "subscriber"
    assert ana["email"] not in json.dumps(raw) and "Ana Lima" not in json.dumps(raw)
    content = await open_queued(runtime, event)
    assert content is not None
    assert content.to == [ana["email"]]
    assert content.subject == "Order A-17 for Ana"
    assert content.body == f"<p>Hi Ana Lima, order A-17 (3 items) for {ana['email']}</p>"
    assert content.altbody == "Order A-17"
    assert content.headers == [("X-Order", "A-17")]


async def test_by_ids_one_message_each_and_erasure_makes_them_unreadable(
        api: httpx.AsyncClient, runtime: Runtime, template: dict[str, Any]) -> None:
    first, second = await create(api, name="One Person"), await create(api, name="Two People")
    cid, headers = correlated()
    response = await _send(api, headers, subscriber_ids=[first["id"], second["id"]],
                           template_id=template["id"], data={"order_id": 5, "items": []},
                           subject="Yours, {{ .Subscriber.Name }}")
    assert response.status_code == 200, response.text
    messages = await queued(runtime, cid)
    assert [e.subscriber_id for e, _ in messages] == [first["id"], second["id"]]
    contents = [await open_queued(runtime, e) for e, _ in messages]
    assert [c.subject for c in contents if c] == ["Yours, One Person", "Yours, Two People"]

    assert (await api.delete(f"/api/subscribers/{first['id']}")).status_code == 200
    assert await open_queued(runtime, messages[0][0]) is None
    assert await open_queued(runtime, messages[1][0]) is not None


async def test_multipart_with_attachments(api: httpx.AsyncClient, runtime: Runtime,
                                          template: dict[str, Any]) -> None:
    sub = await create(api)
    cid, headers = correlated()
    pdf = b"%PDF-1.4\n\x00\xffinvoice"
    data = {"subscriber_id": sub["id"], "template_id": template["id"],
            "data": {"order_id": "M-1", "items": [1]}}
    response = await api.post(
        "/api/tx", headers=headers, data={"data": json.dumps(data)},
        files=[("file", ("invoice.pdf", pdf, "application/pdf")),
               ("file", ("notes.txt", b"thanks", "text/plain"))])
    assert response.status_code == 200, response.text
    [(event, _)] = await queued(runtime, cid)
    assert isinstance(event, TxMessageQueued)
    assert [(a.size, a.sha256) for a in event.attachments] == [
        (len(pdf), hashlib.sha256(pdf).hexdigest()), (6, hashlib.sha256(b"thanks").hexdigest())]
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT name, content_type, content FROM eventlog.attachments"
            " WHERE attachment_id = %s", (event.attachments[0].attachment_id,))
        row = await cur.fetchone()
    assert row is not None and row[1] == "application/pdf"  # stored sealed
    assert "invoice" not in row[0] and b"invoice" not in bytes(row[2])
    assert await open_attachments(runtime, event) == [
        AttachmentFile("invoice.pdf", "application/pdf", pdf),
        AttachmentFile("notes.txt", "text/plain", b"thanks")]
    content = await open_queued(runtime, event)
    assert content is not None and "order M-1 (1 items)" in content.body


async def test_multipart_needs_one_data_field(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/tx", files=[("file", ("a.txt", b"a", "text/plain"))])
    assert (response.status_code, response.json()) == (400, {"message": "Invalid fields: data"})
    response = await api.post("/api/tx", data={"data": "{nope"},
                              files=[("file", ("a.txt", b"a", "text/plain"))])
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid fields: data: ")


async def test_fallback_sends_to_unknown_addresses_with_their_own_erasable_key(
        api: httpx.AsyncClient, runtime: Runtime, template: dict[str, Any]) -> None:
    known, stranger = await create(api, name="Known One"), unique_email("stranger")
    cid, headers = correlated()
    response = await _send(api, headers, subscriber_mode="fallback",
                           subscriber_emails=[known["email"], stranger],
                           template_id=template["id"], data={"order_id": 9, "items": [1]})
    assert response.status_code == 200, response.text
    (mine, _), (theirs, raw) = await queued(runtime, cid)
    assert mine.subscriber_id == known["id"]
    assert theirs.subscriber_id is None and raw["sealed_with"] == "message"
    assert stranger not in json.dumps(raw)
    content = await open_queued(runtime, theirs)
    assert content is not None and content.to == [stranger]
    assert content.body == f"<p>Hi , order 9 (1 items) for {stranger}</p>"
    assert content.subject == "Order 9 for "

    async with runtime.pool.connection() as conn:
        assert await erase_address(conn, stranger.upper()) == 1
    assert await open_queued(runtime, theirs) is None


async def test_external_mode_never_looks_subscribers_up(
        api: httpx.AsyncClient, runtime: Runtime, template: dict[str, Any]) -> None:
    known = await create(api, name="Known Two")
    cid, headers = correlated()
    response = await _send(api, headers, subscriber_mode="external",
                           subscriber_emails=[known["email"]], template_id=template["id"],
                           data={"order_id": 1, "items": []}, from_email="Shop <s@example.com>")
    assert response.status_code == 200, response.text
    [(event, _)] = await queued(runtime, cid)
    assert event.subscriber_id is None and event.from_email == "Shop <s@example.com>"
    content = await open_queued(runtime, event)
    assert content is not None and content.body.startswith("<p>Hi , order 1")


async def test_unknown_subscribers_are_named_and_the_known_ones_still_queued(
        api: httpx.AsyncClient, runtime: Runtime, template: dict[str, Any]) -> None:
    ghost = unique_email("ghost")
    before = await event_count(runtime)
    response = await _send(api, subscriber_email=ghost, template_id=template["id"])
    assert response.status_code == 400
    assert response.json() == {"message": f"Subscriber (0: {ghost}) not found"}
    response = await _send(api, subscriber_id=999999999, template_id=template["id"])
    assert response.json() == {"message": "Subscriber (999999999: ) not found"}
    assert await event_count(runtime) == before

    known = await create(api)
    cid, headers = correlated()
    response = await _send(api, headers, subscriber_emails=[ghost, known["email"]],
                           template_id=template["id"], data={"items": []})
    assert response.status_code == 400
    assert response.json() == {"message": f"Subscriber (0: {ghost}) not found"}
    assert [e.subscriber_id for e, _ in await queued(runtime, cid)] == [known["id"]]


async def test_only_transactional_templates(api: httpx.AsyncClient, runtime: Runtime) -> None:
    sub = await create(api)
    campaign_tpl = await make_template(
        api, type="campaign", body='<div>{{ template "content" . }}</div>')
    before = await event_count(runtime)
    for template_id in (campaign_tpl["id"], 999999999):
        response = await _send(api, subscriber_id=sub["id"], template_id=template_id)
        assert (response.status_code, response.json()) == (
            400, {"message": f"template {template_id} not found"})
    assert await event_count(runtime) == before


@pytest.mark.parametrize(("fields", "message"), [
    ({"subject": "{{ if }}"}, "Error rendering message: error compiling subject: "),
    ({"altbody": "{{ end }}"}, "Error rendering message: error compiling alt body: "),
    ({"data": {"items": None}}, "Error rendering message: template: base:1:"),
])
async def test_template_errors_are_400s_that_queue_nothing(
        api: httpx.AsyncClient, runtime: Runtime, template: dict[str, Any],
        fields: dict[str, Any], message: str) -> None:
    sub = await create(api)
    before = await event_count(runtime)
    response = await _send(api, subscriber_id=sub["id"], template_id=template["id"], **fields)
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(message)
    assert await event_count(runtime) == before


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "Invalid fields: send subscriber_emails OR subscriber_ids"),
    ({"subscriber_emails": ["a@example.com"], "subscriber_ids": [1]},
     "Invalid fields: send subscriber_emails OR subscriber_ids"),
    ({"subscriber_emails": ["a@example.com"], "subscriber_email": "b@example.com"},
     "Invalid fields: do not send `subscriber_email`"),
    ({"subscriber_ids": [1], "subscriber_id": 2}, "Invalid fields: do not send `subscriber_id`"),
    ({"subscriber_mode": "external", "subscriber_ids": [1]},
     "Invalid fields: subscriber_ids not allowed in fallback or external mode"),
    ({"subscriber_mode": "fallback"}, "Invalid fields: subscriber_emails"),
    ({"subscriber_mode": "sometimes", "subscriber_id": 1}, "Invalid fields: subscriber_mode"),
    ({"subscriber_email": "not-an-email"}, "Invalid email."),
    ({"subscriber_id": 1, "messenger": "pigeon"}, "Unknown messenger pigeon."),
    ({"subscriber_id": "1"},
     "Unmarshal type error: expected=int, got=string, field=subscriber_id"),
])
async def test_invalid_requests(api: httpx.AsyncClient, fields: dict[str, Any],
                                message: str) -> None:
    response = await _send(api, template_id=1, **fields)
    assert (response.status_code, response.json()) == (400, {"message": message})


async def test_a_retry_with_the_same_idempotency_key_queues_once(
        api: httpx.AsyncClient, runtime: Runtime, template: dict[str, Any]) -> None:
    sub = await create(api)
    cid, headers = correlated()
    headers["Idempotency-Key"] = cid
    body = {"subscriber_id": sub["id"], "template_id": template["id"], "data": {"items": []}}
    first = await api.post("/api/tx", json=body, headers=headers)
    second = await api.post("/api/tx", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert len(await queued(runtime, cid)) == 1
