"""The export record format and filters (no database: the records are built by hand)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from events.store import Position, RecordedEvent
from postlog.export import ExportFilter, encode_record, event_record, keep, parse_until

RECORDED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def recorded(stream_id: str = "subscriber-42", at: datetime = RECORDED) -> RecordedEvent:
    return RecordedEvent(
        position=Position(812, 7),
        event_id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        stream_id=stream_id,
        category=stream_id.split("-")[0],
        version=3,
        type="subscriber.created",
        schema_version=1,
        data={"id": 42, "name": "Ada"},
        metadata={"actor": "admin", "request_id": "r-1"},
        recorded_at=at,
    )


def test_a_record_carries_every_field_of_the_stored_event() -> None:
    assert event_record(recorded()) == {
        "position": "812:7",
        "event_id": "00000000-0000-4000-8000-000000000001",
        "stream_id": "subscriber-42",
        "category": "subscriber",
        "version": 3,
        "type": "subscriber.created",
        "schema_version": 1,
        "data": {"id": 42, "name": "Ada"},
        "metadata": {"actor": "admin", "request_id": "r-1"},
        "recorded_at": "2026-03-01T12:00:00+00:00",
    }


def test_the_position_of_a_record_is_accepted_back_as_since() -> None:
    assert Position.parse(event_record(recorded())["position"]) == Position(812, 7)


def test_each_record_is_one_json_line() -> None:
    line = encode_record(event_record(recorded()))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["data"] == {"id": 42, "name": "Ada"}


def test_the_default_transform_exports_records_unchanged() -> None:
    record = event_record(recorded())
    assert keep(record) == record


def test_the_stream_filter_keeps_only_that_stream() -> None:
    selection = ExportFilter(stream="subscriber-42")
    assert selection.matches(recorded("subscriber-42"))
    assert not selection.matches(recorded("subscriber-420"))


def test_the_until_filter_includes_events_recorded_at_that_time() -> None:
    selection = ExportFilter(until=RECORDED)
    assert selection.matches(recorded(at=RECORDED))
    assert selection.matches(recorded(at=RECORDED - timedelta(seconds=1)))
    assert not selection.matches(recorded(at=RECORDED + timedelta(microseconds=1)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T12:00:00Z", RECORDED),
        ("2026-03-01T12:00:00+00:00", RECORDED),
        ("2026-03-01T14:00:00+02:00", RECORDED),
        ("2026-03-01T12:00:00", RECORDED),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_until_accepts_iso_8601_and_reads_a_time_without_offset_as_utc(
    text: str, expected: datetime
) -> None:
    parsed = parse_until(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


def test_until_rejects_what_is_not_a_time() -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_until("yesterday")
