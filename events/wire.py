"""The NATS message codec shared by the relay (encoder) and the projection runner (decoder).

A message's payload is the whole recorded event as JSON, so a consumer needs nothing else to
apply it. Headers repeat what routing and deduplication need without parsing the payload:

- ``Nats-Msg-Id``: the event id (JetStream drops a re-publish after a relay crash).
- ``Postlog-Position``: the event's position ``tx:gp``.
- ``Postlog-Prev-Position``: the position of the event published just before it in log order
  (``0:0`` for the first). A consumer that has applied exactly that position knows it has not
  missed anything; any other value means a gap, to be filled from the Postgres log.
- ``Postlog-Type``, ``Postlog-Schema-Version``, ``Postlog-Stream-Id``, ``Postlog-Correlation-Id``.

**By reference.** An event whose message would exceed what the server or the stream accepts
(NATS' ``max_payload``, 1 MiB by default) is published with the same subject and headers, no
body, and ``Postlog-Payload: reference`` (``Postlog-Payload-Size`` gives the size the body would
have had). The stream stays complete and in log order; a consumer that meets a reference reads
the event from the Postgres log at ``Postlog-Position``. ``decode_message`` raises
``PayloadByReference`` for such a message (a ``ValueError``, so a consumer that does not know
references treats it like an undecodable message and falls back to the log).

**Safe headers and subjects.** Header values and subject tokens are built from event fields
(stream id, type, category, correlation id) that a hand-made log can fill with anything. A CR/LF
or other control character in a header, or whitespace in a subject, makes the client or the
server refuse the message (or drop the connection) every time it is sent, which would stall the
relay on that one event. So control characters become ``?`` in headers (values cut at
``HEADER_VALUE_LIMIT`` characters) and anything but ``[A-Za-z0-9_-]`` becomes ``_`` in subject
tokens. Valid values pass unchanged; the payload (or the log) keeps the exact ones.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
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
PAYLOAD = "Postlog-Payload"
PAYLOAD_SIZE = "Postlog-Payload-Size"
BY_REFERENCE = "reference"

HEADER_VALUE_LIMIT = 256
# Room for headers added after encoding (the relay's ``Nats-Expected-Last-Msg-Id``, ~66 bytes).
HEADER_ALLOWANCE = 256
_NATS_HEADER_LINE = len(b"NATS/1.0\r\n") + len(b"\r\n")

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


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


@dataclass(frozen=True)
class EventReference:
    """What a by-reference message says: which event to read from the log, and what came before.

    ``stream_id`` and ``type`` are the (sanitised) header values: routing hints only.
    """

    event_id: str
    position: Position
    prev: Position
    stream_id: str
    type: str
    size: int


class PayloadByReference(ValueError):
    """The message carries no event body: read the event at ``reference.position`` from the log."""

    def __init__(self, reference: EventReference) -> None:
        super().__init__(f"event {reference.event_id} at {reference.position} was published by"
                         f" reference ({reference.size} bytes): read it from the log")
        self.reference = reference


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(WireEvent)


def header_value(text: str) -> str:
    """``text`` as a header value that cannot break the protocol (see the module docstring)."""
    return _CONTROL.sub("?", text).strip()[:HEADER_VALUE_LIMIT]


def subject_token(text: str, *, dots: bool = False) -> str:
    """``text`` as subject token(s): ``[A-Za-z0-9_-]`` only (with ``dots``, dot-separated tokens,
    none of them empty), so the subject is one a server accepts for publishing."""
    if not dots:
        return _NOT_TOKEN.sub("_", text)[:HEADER_VALUE_LIMIT] or "_"
    return ".".join(subject_token(part) for part in text[:HEADER_VALUE_LIMIT].split("."))


def message_size(payload: bytes, headers: dict[str, str]) -> int:
    """Bytes a message takes against NATS' ``max_payload`` and a stream's ``max_msg_size``
    (both count the header block), with room for headers added after encoding."""
    block = sum(len(k) + len(v.encode()) + 4 for k, v in headers.items())
    return len(payload) + _NATS_HEADER_LINE + block + HEADER_ALLOWANCE


def encode_message(
    recorded: RecordedEvent, prev: Position = START, *, max_size: int | None = None,
    by_reference: bool = False,
) -> tuple[bytes, dict[str, str]]:
    """Payload and headers for publishing ``recorded``; ``prev`` is the event before it.

    The payload is empty and ``Postlog-Payload: reference`` set when ``by_reference`` is asked
    or the message would be larger than ``max_size`` bytes (``message_size``).
    """
    headers = {
        MSG_ID: str(recorded.event_id),
        POSITION: str(recorded.position),
        PREV_POSITION: str(prev),
        TYPE: header_value(recorded.type),
        SCHEMA_VERSION: str(recorded.schema_version),
        STREAM_ID: header_value(recorded.stream_id),
    }
    correlation = recorded.metadata.get("correlation_id") if recorded.metadata else None
    if correlation:
        headers[CORRELATION_ID] = header_value(str(correlation))
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
    if by_reference or (max_size is not None and message_size(payload, headers) > max_size):
        headers[PAYLOAD] = BY_REFERENCE
        headers[PAYLOAD_SIZE] = str(len(payload))
        return b"", headers
    return payload, headers


def is_reference(headers: dict[str, str] | None) -> bool:
    """Whether a message was published by reference (it has no event body)."""
    return (headers or {}).get(PAYLOAD) == BY_REFERENCE


def reference_of(headers: dict[str, str] | None) -> EventReference:
    """The event a by-reference message points to; ``ValueError`` when the headers lack it."""
    found = headers or {}
    position = found.get(POSITION)
    if not is_reference(found) or not position:
        raise ValueError("not a by-reference message")
    prev = found.get(PREV_POSITION)
    return EventReference(
        event_id=found.get(MSG_ID, ""),
        position=Position.parse(position),
        prev=Position.parse(prev) if prev else START,
        stream_id=found.get(STREAM_ID, ""),
        type=found.get(TYPE, ""),
        size=int(found.get(PAYLOAD_SIZE) or 0),
    )


def decode_message(
    data: bytes, headers: dict[str, str] | None
) -> tuple[RecordedEvent, Position]:
    """The recorded event carried by a message and the position published just before it.

    A message without ``Postlog-Prev-Position`` yields ``START`` as its previous position.
    Raises ``PayloadByReference`` for a message published by reference (read that event from
    the log), ``msgspec.ValidationError``/``DecodeError`` on a payload that is not a recorded
    event.
    """
    if is_reference(headers):
        raise PayloadByReference(reference_of(headers))
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
