"""No single event stalls the relay: one too large for NATS goes by reference, hostile header
and subject text is made safe, and everything after them is published, in order (real Postgres
and NATS; the events are planted in ``eventlog.events``, bypassing the append's validation)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from events.wire import (
    BY_REFERENCE,
    CORRELATION_ID,
    MSG_ID,
    PAYLOAD,
    PAYLOAD_SIZE,
    POSITION,
    PREV_POSITION,
    STREAM_ID,
    TYPE,
    PayloadByReference,
    decode_message,
    header_value,
    subject_token,
)
from kernel.db import open_pool
from kernel.nats import stream_config
from kernel.settings import Settings
from tests.integration.projection_support import NOW, plant
from tests.integration.test_relay import (
    append_events,
    jetstream,
    log_order,
    published_up_to,
    relay_settings,
    running_relay,
)

BIG_DESCRIPTION = 1_200_000  # characters: above NATS' default max_payload of 1 MiB


def list_data(list_id: int, **fields: Any) -> dict[str, Any]:
    return {"list_id": list_id, "uuid": str(uuid.uuid4()), "name": f"list {list_id}",
            "list_type": "public", "optin": "single", "at": NOW.isoformat(), **fields}


async def consume(js: JetStreamContext, settings: Settings, count: int) -> list[Msg]:
    """The first ``count`` messages of the stream, through an (ordered) JetStream consumer."""
    sub = await js.subscribe(settings.subject_wildcard, stream=settings.stream_name,
                             ordered_consumer=True)
    try:
        return [await sub.next_msg(timeout=10) for _ in range(count)]
    finally:
        await sub.unsubscribe()


async def test_an_oversized_or_hostile_event_never_stops_the_relay(
    fresh_database_url: str, nats_server_url: str
) -> None:
    settings = relay_settings(fresh_database_url, nats_server_url)
    hostile_stream = "list-7\r\nX-Injected: 1"
    hostile_type = "list.created\r\nNats-Msg-Id: forged ..x"
    pool = await open_pool(settings, name="plant")
    try:
        await append_events(fresh_database_url, 3, per_transaction=3)
        await plant(pool, "list-big1", "list.created",
                    list_data(1001, description="a" * BIG_DESCRIPTION))
        await append_events(fresh_database_url, 3, per_transaction=3)
        await plant(pool, hostile_stream, hostile_type, list_data(7), category="li st>",
                    metadata={"correlation_id": "corr\r\nX-Evil: \x01yes"})
        await append_events(fresh_database_url, 3, per_transaction=3)
        await plant(pool, "list-big2", "list.created",
                    list_data(1002, description="b" * BIG_DESCRIPTION))
        await append_events(fresh_database_url, 2, per_transaction=2)
    finally:
        await pool.close()
    log = await log_order(fresh_database_url, 14)
    # Batches of 4: the first is acked message by message, the next ones chained.
    async with jetstream(nats_server_url, settings) as js, running_relay(
        settings, batch_size=4
    ) as relay:
        await published_up_to(settings, log[-1])
        assert not relay.task.done()
        messages = await consume(js, settings, len(log))
        assert relay.metrics.relay_events_by_reference_total == 2
        assert relay.metrics.relay_publish_failures_total == 0
        assert relay.metrics.relay_chained_batches_total >= 1

    headers = [m.headers or {} for m in messages]
    assert [h[MSG_ID] for h in headers] == [str(e.event_id) for e in log]
    assert [h[POSITION] for h in headers] == [str(e.position) for e in log]
    assert [h[PREV_POSITION] for h in headers] == ["0:0", *(str(e.position) for e in log[:-1])]
    by_reference = [e.stream_id for e, h in zip(log, headers, strict=True)
                    if h.get(PAYLOAD) == BY_REFERENCE]
    assert by_reference == ["list-big1", "list-big2"]
    for event, msg in zip(log, messages, strict=True):
        if event.stream_id.startswith("list-big"):
            assert msg.data == b""
            assert int((msg.headers or {})[PAYLOAD_SIZE]) > BIG_DESCRIPTION
            with pytest.raises(PayloadByReference) as raised:
                decode_message(msg.data, msg.headers)
            assert raised.value.reference.position == event.position
        else:
            recorded, _ = decode_message(msg.data, msg.headers)
            assert (recorded.event_id, recorded.stream_id, recorded.type) == (
                event.event_id, event.stream_id, event.type)

    hostile = next(m for e, m in zip(log, messages, strict=True) if e.stream_id == hostile_stream)
    assert hostile.subject == settings.subject_for(subject_token("li st>"),
                                                   subject_token(hostile_type, dots=True))
    assert (hostile.headers or {})[STREAM_ID] == header_value(hostile_stream) == (
        "list-7??X-Injected: 1")
    assert (hostile.headers or {})[TYPE] == header_value(hostile_type)
    assert (hostile.headers or {})[CORRELATION_ID] == "corr??X-Evil: ?yes"
    assert "X-Injected" not in (hostile.headers or {})


async def test_a_stream_with_a_smaller_message_limit_gets_references_too(
    fresh_database_url: str, nats_server_url: str
) -> None:
    """A stream's own ``max_msg_size`` (below the server's ``max_payload``) is a limit too:
    JetStream would refuse the message every time it is sent."""
    settings = relay_settings(fresh_database_url, nats_server_url)
    async with jetstream(nats_server_url, settings) as js:
        config = stream_config(settings)
        config.max_msg_size = 4096
        await js.add_stream(config)
        pool = await open_pool(settings, name="plant")
        try:
            await append_events(fresh_database_url, 2, per_transaction=2)
            await plant(pool, "list-big", "list.created", list_data(9, description="c" * 5000))
            await append_events(fresh_database_url, 2, per_transaction=2)
        finally:
            await pool.close()
        log = await log_order(fresh_database_url, 5)
        async with running_relay(settings, batch_size=10) as relay:
            await published_up_to(settings, log[-1])
            assert relay.metrics.relay_events_by_reference_total == 1
        messages = await consume(js, settings, len(log))
    assert [(m.headers or {}).get(PAYLOAD) for m in messages] == [
        None, None, BY_REFERENCE, None, None]

