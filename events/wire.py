"""The NATS message codec shared by the relay (encoder) and the projection runner (decoder).

A message's payload is the whole recorded event as JSON, so a consumer needs nothing else to
apply it. Headers repeat what routing and deduplication need without parsing the payload:

- ``Nats-Msg-Id``: the event id (JetStream drops a re-publish after a relay crash).
- ``Postlog-Position``: the event's position ``tx:gp``.
- ``Postlog-Prev-Position``: the position of the event published just before it in log order
  (``0:0`` for the first). A consumer that has applied exactly that position knows it has not
  missed anything; any other value means a gap, to be filled from the Postgres log.
- ``Postlog-Type``, ``Postlog-Schema-Version``, ``Postlog-Stream-Id``, ``Postlog-Correlation-Id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from events.store import START, Position, RecordedEvent

MSG_ID = "Nats-Msg-Id"
POSITION = "Postlog-Position"
PREV_POSITION = "Postlog-Prev-Position"
TYPE = "Postlog-Type"
SCHEMA_VERSION = "Postlog-Schema-Version"
STREAM_ID = "Postlog-Stream-Id"
CORRELATION_ID = "Postlog-Correlation-Id"


class WireEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The JSON payload of one message: a recorded event, position as ``"tx:gp"``."""

    event_id: uuid.UUID
    stream_id: str
    category: str
    version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    position: str


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(WireEvent)


def encode_message(
    recorded: RecordedEvent, prev: Position = START
) -> tuple[bytes, dict[str, str]]:
    """Payload and headers for publishing ``recorded``; ``prev`` is the event before it."""
    payload = _encoder.encode(
        WireEvent(
            event_id=recorded.event_id,
            stream_id=recorded.stream_id,
            category=recorded.category,
            version=recorded.version,
            type=recorded.type,
            schema_version=recorded.schema_version,
            data=recorded.data,
            metadata=recorded.metadata,
            recorded_at=recorded.recorded_at,
            position=str(recorded.position),
        )
    )
    headers = {
        MSG_ID: str(recorded.event_id),
        POSITION: str(recorded.position),
        PREV_POSITION: str(prev),
        TYPE: recorded.type,
        SCHEMA_VERSION: str(recorded.schema_version),
        STREAM_ID: recorded.stream_id,
    }
    correlation = recorded.metadata.get("correlation_id") if recorded.metadata else None
    if correlation:
        headers[CORRELATION_ID] = str(correlation)
    return payload, headers


def decode_message(
    data: bytes, headers: dict[str, str] | None
) -> tuple[RecordedEvent, Position]:
    """The recorded event carried by a message and the position published just before it.

    A message without ``Postlog-Prev-Position`` yields ``START`` as its previous position.
    Raises ``msgspec.ValidationError``/``DecodeError`` on a payload that is not a recorded event.
    """
    wire = _decoder.decode(data)
    recorded = RecordedEvent(
        position=Position.parse(wire.position),
        event_id=wire.event_id,
        stream_id=wire.stream_id,
        category=wire.category,
        version=wire.version,
        type=wire.type,
        schema_version=wire.schema_version,
        data=wire.data,
        metadata=wire.metadata,
        recorded_at=wire.recorded_at,
    )
    prev_text = (headers or {}).get(PREV_POSITION)
    prev = Position.parse(prev_text) if prev_text else START
    return recorded, prev
