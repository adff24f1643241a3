"""The postback messenger against a real HTTP server in the test process: listmonk's payload
key by key, Basic auth, connection reuse, and how answers and timeouts become results."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

from events.message_storage import AttachmentFile
from events.messages import MessageContent
from events.settings import PostbackMessenger
from services.sender.messengers.base import CampaignInfo, OutgoingMessage, Recipient
from services.sender.messengers.postback import HTTPPostback
from tests.integration.http_support import start_http_server

SUBSCRIBER_UUID = "0f6c1c64-7b4e-4a55-9a4e-5c0b1b3b2a02"
CAMPAIGN_UUID = "6b9f3bb8-8a5b-4a43-9a3b-2a3c1f0c1d01"


def config(url: str, **fields: Any) -> PostbackMessenger:
    values: dict[str, Any] = {"name": "hook", "root_url": url, "timeout": "5s",
                              "max_conns": 2, "max_msg_retries": 0}
    values.update(fields)
    return PostbackMessenger(**values)


def message(*, campaign: bool = True,
            attachments: tuple[AttachmentFile, ...] = ()) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=uuid.uuid4().hex, from_email="News <news@example.com>",
        content_type="richtext",
        content=MessageContent(to=["ana@example.org"], subject="March news for Ana",
                               body="<p>Hello Ana</p>", altbody="Hello Ana"),
        recipient=Recipient(uuid=SUBSCRIBER_UUID, email="ana@example.org", name="Ana Lima",
                            attribs={"city": "Porto", "plan": {"tier": 2}}, status="enabled"),
        campaign=CampaignInfo(uuid=CAMPAIGN_UUID, name="March news",
                              from_email="News <news@example.com>",
                              headers=[{"X-Campaign-Kind": "digest"}],
                              tags=["monthly", "news"]) if campaign else None,
        attachments=attachments)


async def test_the_payload_is_listmonks_key_by_key() -> None:
    pdf = AttachmentFile(name="report.pdf", content_type="application/pdf",
                         content=b"%PDF-1.7\x00\xff binary")
    async with start_http_server() as (url, server):
        postback = HTTPPostback(config(url))
        try:
            result = await postback.send(message(attachments=(pdf,)))
        finally:
            await postback.close()

    assert result.delivered and result.code == 200
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/postback")
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    payload = json.loads(request.body)
    assert list(payload) == ["subject", "from_email", "content_type", "body", "recipients",
                             "campaign", "attachments"]
    assert payload["subject"] == "March news for Ana"
    assert payload["from_email"] == "News <news@example.com>"
    assert payload["content_type"] == "richtext"
    assert payload["body"] == "<p>Hello Ana</p>"
    assert payload["recipients"] == [{
        "uuid": SUBSCRIBER_UUID, "email": "ana@example.org", "name": "Ana Lima",
        "attribs": {"city": "Porto", "plan": {"tier": 2}}, "status": "enabled"}]
    assert list(payload["recipients"][0]) == ["uuid", "email", "name", "attribs", "status"]
    assert payload["campaign"] == {
        "from_email": "News <news@example.com>", "uuid": CAMPAIGN_UUID, "name": "March news",
        "headers": [{"X-Campaign-Kind": "digest"}], "tags": ["monthly", "news"]}
    assert list(payload["campaign"]) == ["from_email", "uuid", "name", "headers", "tags"]
    [attachment] = payload["attachments"]
    assert list(attachment) == ["name", "header", "content"]
    assert attachment["name"] == "report.pdf"
    assert base64.b64decode(attachment["content"], validate=True) == pdf.content
    assert attachment["header"] == {
        "Content-Disposition": ["attachment; filename=report.pdf"],
        "Content-Transfer-Encoding": ["base64"],
        "Content-Type": ['application/pdf; name="report.pdf"']}


async def test_a_message_outside_a_campaign_has_null_campaign_and_attachments() -> None:
    async with start_http_server() as (url, server):
        postback = HTTPPostback(config(url))
        try:
            assert (await postback.send(message(campaign=False))).delivered
        finally:
            await postback.close()

    payload = json.loads(server.requests[0].body)
    assert payload["campaign"] is None
    assert payload["attachments"] is None


async def test_basic_auth_when_a_username_is_set_and_connections_are_reused() -> None:
    async with start_http_server() as (url, server):
        postback = HTTPPostback(config(url, username="hook-user", password="hook-pass"))
        try:
            results = [await postback.send(message()) for _ in range(3)]
        finally:
            await postback.close()

    assert all(r.delivered for r in results)
    expected = "Basic " + base64.b64encode(b"hook-user:hook-pass").decode()
    assert [r.headers["authorization"] for r in server.requests] == [expected] * 3
    assert server.connections == 1


async def test_a_timeout_is_temporary_and_retried() -> None:
    async with start_http_server() as (url, server):
        server.gate = asyncio.Event()  # never answers
        postback = HTTPPostback(config(url, timeout="200ms", max_msg_retries=1),
                                retry_delay=0.01)
        try:
            result = await postback.send(message())
        finally:
            server.gate.set()
            await postback.close()

    assert not result.delivered and result.temporary and result.code == 0
    assert result.detail.startswith("timed out")
    assert len(server.requests) == 2


async def test_a_5xx_is_retried_and_then_delivered() -> None:
    async with start_http_server() as (url, server):
        server.replies = [(503, b"busy, come back later")]
        postback = HTTPPostback(config(url, max_msg_retries=2), retry_delay=0.01)
        try:
            result = await postback.send(message())
        finally:
            await postback.close()

    assert result.delivered and result.code == 200
    assert len(server.requests) == 2


async def test_a_4xx_is_permanent_with_status_and_body() -> None:
    async with start_http_server() as (url, server):
        server.replies = [(422, b"recipient unknown\n")]
        postback = HTTPPostback(config(url, max_msg_retries=2), retry_delay=0.01)
        try:
            result = await postback.send(message())
        finally:
            await postback.close()

    assert not result.delivered and not result.temporary
    assert (result.code, result.detail) == (422, "HTTP 422: recipient unknown")
    assert len(server.requests) == 1


async def test_an_unreachable_server_is_temporary() -> None:
    async with start_http_server() as (url, _):
        pass  # the port is closed again
    postback = HTTPPostback(config(url))
    try:
        result = await postback.send(message())
    finally:
        await postback.close()

    assert not result.delivered and result.temporary and result.code == 0
    assert "ConnectError" in result.detail
