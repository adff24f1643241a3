"""The maintenance boundary: before_date/since read as Go's time.Parse(time.RFC3339)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from events.maintenance import parse_rfc3339


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-03-01T10:30:00Z", datetime(2024, 3, 1, 10, 30, tzinfo=UTC)),
    ("2024-03-01T10:30:00.123456789+02:00",
     datetime(2024, 3, 1, 10, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))),
])
def test_rfc3339_dates_are_read(text: str, expected: datetime) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize("text", ["", "2024-03-01", "2024-03-01 10:30:00Z",
                                  "2024-03-01T10:30:00", "2024-02-30T00:00:00Z",
                                  "2024-03-01T25:00:00Z", "2024-03-01T10:30:00Z\x00"])
def test_anything_else_is_refused(text: str) -> None:
    assert parse_rfc3339(text) is None
