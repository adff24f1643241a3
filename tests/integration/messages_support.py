"""Helpers for the tests of queued messages: find a request's events and open their content."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from events.crypto import load_keys
from events.message_storage import AttachmentFile, load_attachment, load_message_key
from events.messages import CampaignTestQueued, MessageContent, TxMessageQueued, open_content
from events.registry import decode_event
from services.runtime import Runtime

Queued = TxMessageQueued | CampaignTestQueued


def correlated() -> tuple[str, dict[str, str]]:
    """A fresh correlation id and the request header carrying it."""
    cid = f"test-{uuid.uuid4()}"
    return cid, {"x-correlation-id": cid}


async def queued(runtime: Runtime, correlation_id: str) -> list[tuple[Queued, dict[str, Any]]]:
    """The messages a request queued (in order), each with its raw stored ``data``."""
    async with runtime.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT type, schema_version, data, stream_id FROM eventlog.events"
            " WHERE category = 'message' AND metadata->>'correlation_id' = %s"
            " ORDER BY global_position", (correlation_id,))
        rows = await cur.fetchall()
    out: list[tuple[Queued, dict[str, Any]]] = []
    for event_type, version, data, stream in rows:
        event = decode_event(event_type, version, data)
        assert isinstance(event, TxMessageQueued | CampaignTestQueued)
        assert stream == f"message-{event.message_id}"
        out.append((event, data))
    return out


async def _content_key(runtime: Runtime, event: Queued) -> bytes | None:
    """The key sealing the message's content (the recipient's), ``None`` once erased."""
    async with runtime.pool.connection() as conn:
        if event.subscriber_id is None:
            return await load_message_key(conn, event.message_id)
        return (await load_keys(conn, [event.subscriber_id])).get(event.subscriber_id)


async def open_queued(runtime: Runtime, event: Queued) -> MessageContent | None:
    """The sealed content of a queued message, ``None`` once erased."""
    key = await _content_key(runtime, event)
    return open_content(key, event.content, event.message_id, event.subscriber_id)


async def open_attachments(runtime: Runtime, event: TxMessageQueued) -> list[AttachmentFile]:
    """A queued message's files, read back as the sender will (``AttachmentErased`` once its
    recipient was erased)."""
    key = await _content_key(runtime, event)
    async with runtime.pool.connection() as conn:
        return [await load_attachment(conn, ref, message_id=event.message_id,
                                      recipient_key=key) for ref in event.attachments]


async def make_template(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": f"tpl-{uuid.uuid4().hex[:8]}", "type": "tx", **fields}
    response = await api.post("/api/templates", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
