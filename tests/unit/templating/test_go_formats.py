"""Go's fmt verbs and time layouts, as templates print numbers and dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gotemplate.gofmt import fmt_value, sprintf
from gotemplate.gotime import (
    format_duration,
    format_time,
    parse_duration,
    parse_time,
)

T = datetime(2024, 3, 5, 14, 7, 9, 120000, tzinfo=timezone(timedelta(hours=5, minutes=30)))


@pytest.mark.parametrize(("layout", "expected"), [
    ("2006-01-02 15:04:05", "2024-03-05 14:07:09"),
    ("Mon Jan _2 15:04:05 2006", "Tue Mar  5 14:07:09 2024"),
    ("Monday, January 2, 2006 3:04PM", "Tuesday, March 5, 2024 2:07PM"),
    ("02/01/06 03:04 pm", "05/03/24 02:07 pm"),
    ("2006-01-02T15:04:05Z07:00", "2024-03-05T14:07:09+05:30"),
    ("15:04:05.000 -0700 MST", "14:07:09.120 +0530 +0530"),
    ("15:04:05.999999999", "14:07:09.12"),
    ("Jan 2 '06 at 15h", "Mar 5 '24 at 14h"),
    ("__2 002 1 2 3 4 5", " 65 065 3 5 2 7 9"),
    ("January Month Monday", "March Month Tuesday"),
])
def test_go_reference_time_layouts(layout: str, expected: str) -> None:
    assert format_time(T, layout) == expected


def test_zone_abbreviations_and_utc() -> None:
    berlin = datetime(2024, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert format_time(berlin, "15:04 MST -07:00") == "12:00 CEST +02:00"
    assert format_time(datetime(2024, 1, 1, tzinfo=UTC), "2006-01-02 15:04:05.999999999 -0700 MST"
                       ) == "2024-01-01 00:00:00 +0000 UTC"
    assert format_time(datetime(2024, 1, 1, tzinfo=UTC), "Z07:00") == "Z"


def test_parse_layouts() -> None:
    assert parse_time("2006-01-02", "2024-02-29") == datetime(2024, 2, 29, tzinfo=UTC)
    assert parse_time("Jan 2, 2006 3:04 PM", "Mar 7, 2023 11:30 PM") == \
        datetime(2023, 3, 7, 23, 30, tzinfo=UTC)
    parsed = parse_time("2006-01-02T15:04:05Z07:00", "2024-02-29T10:11:12+02:00")
    assert parsed.utcoffset() == timedelta(hours=2)
    with pytest.raises(ValueError):
        parse_time("2006-01-02", "29/02/2024")


def test_durations() -> None:
    assert [format_duration(n) for n in (0, 1500, 1_500_000, 90 * 10**9, 3600 * 10**9)] == \
        ["0s", "1.5µs", "1.5ms", "1m30s", "1h0m0s"]
    assert parse_duration("1h30m") == 5400 * 10**9
    assert parse_duration("-1.5h") == -5400 * 10**9
    with pytest.raises(ValueError):
        parse_duration("soon")


@pytest.mark.parametrize(("value", "expected"), [
    (1e6, "1e+06"), (123456.0, "123456"), (5.0, "5"), (0.1, "0.1"), (-2.5, "-2.5"),
    (1e-5, "1e-05"), (1e21, "1e+21"), (float("inf"), "+Inf"), (True, "true"), (None, "<nil>"),
    ([1, "a", None], "[1 a <nil>]"), ({"b": 1, "a": [2]}, "map[a:[2] b:1]"), (7, "7"),
])
def test_default_value_formats(value: object, expected: str) -> None:
    assert fmt_value(value) == expected


@pytest.mark.parametrize(("fmt", "args", "expected"), [
    ("%x %X %o %O %b", (255, 255, 8, 8, 5), "ff FF 10 0o10 101"),
    ("%c %U %#x %q", (65, 0x1F600, 255, 65), "A U+1F600 0xff 'A'"),
    ("%05d|%.3d|%-4d|%+.1f", (-42, 7, 3, 2.25), "-0042|007|3   |+2.2"),
    ("%x %q %s", ("hi", "tab\there", ["a", "b"]), '6869 "tab\\there" [a b]'),
    ("%8.3f|%-8.2e|%G", (3.14159, 1234.5, 1e-10), "   3.142|1.23e+03|1E-10"),
    ("%v %d", ([1, 2], [1, 2]), "[1 2] [1 2]"),
    ("%s %d %t", (None, None, "x"), "%!s(<nil>) %!d(<nil>) %!t(string=x)"),
    ("%", (), "%!(NOVERB)"),
    ("%!", (), "%!!(MISSING)"),
    ("100%%", (), "100%"),
    ("%*d|%-*d", (4, 1, 3, 2), "   1|2  "),
])
def test_printf_verbs(fmt: str, args: tuple[object, ...], expected: str) -> None:
    assert sprintf(fmt, *args) == expected
