"""The NATS message codec: events round-trip, too-large ones go by reference, and no event
field can put a control character into a header or whitespace into a subject."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from events.store import START, Position, RecordedEvent
from events.wire import (
    BY_REFERENCE,
    CORRELATION_ID,
    HEADER_VALUE_LIMIT,
    MSG_ID,
    PAYLOAD,
    PAYLOAD_SIZE,
    POSITION,
    PREV_POSITION,
    STREAM_ID,
    TYPE,
    PayloadByReference,
    decode_message,
    encode_message,
    header_value,
    is_reference,
    message_size,
    reference_of,
    subject_token,
)

AT = datetime(2024, 1, 1, tzinfo=UTC)


def event(description: str = "", *, stream_id: str = "list-1", type_: str = "list.created",
          correlation: str | None = "req-1") -> RecordedEvent:
    return RecordedEvent(
        position=Position(12, 34), event_id=uuid.uuid4(), stream_id=stream_id, category="list",
        version=1, type=type_, schema_version=1,
        data={"list_id": 1, "name": "news", "description": description},
        metadata={"correlation_id": correlation} if correlation else {}, recorded_at=AT,
    )


def test_an_event_round_trips_with_its_previous_position() -> None:
    recorded = event("hello")
    payload, headers = encode_message(recorded, Position(12, 33), max_size=1 << 20)
    assert not is_reference(headers)
    assert decode_message(payload, headers) == (recorded, Position(12, 33))
    assert headers[MSG_ID] == str(recorded.event_id)
    assert (headers[POSITION], headers[PREV_POSITION]) == ("12:34", "12:33")
    assert (headers[TYPE], headers[STREAM_ID], headers[CORRELATION_ID]) == (
        "list.created", "list-1", "req-1")


def test_an_event_larger_than_the_limit_goes_by_reference() -> None:
    recorded = event("x" * 2000)
    full, _ = encode_message(recorded, START)
    payload, headers = encode_message(recorded, Position(12, 33), max_size=1000)
    assert payload == b""
    assert headers[PAYLOAD] == BY_REFERENCE
    assert int(headers[PAYLOAD_SIZE]) == len(full)
    assert headers[MSG_ID] == str(recorded.event_id)  # dedupe and order work the same
    with pytest.raises(PayloadByReference) as raised:
        decode_message(payload, headers)
    reference = raised.value.reference
    assert (reference.event_id, reference.position, reference.prev, reference.size) == (
        str(recorded.event_id), Position(12, 34), Position(12, 33), len(full))
    assert reference_of(headers) == reference
    assert isinstance(raised.value, ValueError)  # old consumers treat it as undecodable


def test_headers_count_against_the_limit() -> None:
    """NATS counts the header block in ``max_payload`` (and in a stream's ``max_msg_size``): a
    body just under the limit still goes by reference when its headers take it over."""
    recorded = event("y" * 500)
    payload, headers = encode_message(recorded)
    assert message_size(payload, headers) > len(payload) + sum(map(len, headers.values()))
    _, headers = encode_message(recorded, max_size=len(payload) + 10)
    assert is_reference(headers)
    _, headers = encode_message(recorded, max_size=message_size(payload, headers) + 1)
    assert not is_reference(headers)


def test_a_reference_can_be_forced() -> None:
    payload, headers = encode_message(event(), by_reference=True)
    assert payload == b"" and is_reference(headers)


def test_a_message_that_is_not_a_reference_has_no_reference() -> None:
    _, headers = encode_message(event())
    with pytest.raises(ValueError, match="not a by-reference"):
        reference_of(headers)


def test_header_values_never_carry_control_characters() -> None:
    recorded = event(stream_id="list-1\r\nX-Injected: 1", type_="list.created\x00\x1b[31m",
                     correlation="req\n\u2028\x7f-2")
    _, headers = encode_message(recorded)
    for value in headers.values():
        assert value.isprintable(), value
    assert headers[STREAM_ID] == "list-1??X-Injected: 1"
    assert headers[TYPE] == "list.created??[31m"
    assert headers[CORRELATION_ID] == "req???-2"


def test_header_values_are_cut_and_valid_ones_kept() -> None:
    assert header_value("subscriber-42") == "subscriber-42"
    assert header_value("é" * 1000) == "é" * HEADER_VALUE_LIMIT


@pytest.mark.parametrize(("text", "dots", "token"), [
    ("list", False, "list"),
    ("list.created", True, "list.created"),
    ("subscriber.bounce_recorded", True, "subscriber.bounce_recorded"),
    ("li st", False, "li_st"),
    ("list.created\r\nPUB x 1", True, "list.created__PUB_x_1"),
    ("a..b", True, "a._.b"),
    ("", False, "_"),
    (">", False, "_"),
    ("*.list", True, "_.list"),
    ("a.b", False, "a_b"),
])
def test_subject_tokens_are_ones_a_server_accepts(text: str, dots: bool, token: str) -> None:
    assert subject_token(text, dots=dots) == token
