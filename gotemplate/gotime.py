"""Go's time package as templates use it: reference-time layouts and durations.

``format_time(t, "2006-01-02 15:04:05 Mon Jan MST -0700")`` formats like Go's
Time.Format, ``parse_time(layout, text, tz)`` parses like time.ParseInLocation, and
``format_duration`` / ``parse_duration`` follow Duration.String and time.ParseDuration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from .values import Month, Signature, Weekday

MONTHS = Month.NAMES
DAYS = Weekday.NAMES

# Layout chunks, longest first where prefixes overlap.
_CHUNKS = [
    "January", "Jan", "Monday", "Mon", "MST", "2006", "002", "__2", "_2", "01", "02", "03",
    "04", "05", "06", "15", "1", "2", "3", "4", "5", "PM", "pm",
    "-07:00:00", "-070000", "-07:00", "-0700", "-07",
    "Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07",
]
_FRAC = re.compile(r"[.,](0+|9+)")


def _std_chunks(layout: str) -> list[str | tuple[str, str]]:
    """Split a layout into literal text and (chunk, raw) pairs, following nextStdChunk."""
    out: list[str | tuple[str, str]] = []
    i = 0
    literal = []
    n = len(layout)
    while i < n:
        c = layout[i]
        chunk = None
        if c == "J" and layout.startswith("Jan", i):
            if layout.startswith("January", i):
                chunk = "January"
            elif not "a" <= layout[i + 3:i + 4] <= "z":
                chunk = "Jan"
        elif c == "M" and layout.startswith("Mon", i):
            if layout.startswith("Monday", i):
                chunk = "Monday"
            elif not "a" <= layout[i + 3:i + 4] <= "z":
                chunk = "Mon"
        if chunk is None and c == "M" and layout.startswith("MST", i):
            chunk = "MST"
        elif c == "0" and i + 1 < n and "1" <= layout[i + 1] <= "6":
            chunk = layout[i:i + 2]
        elif c == "0" and layout.startswith("002", i):
            chunk = "002"
        elif c == "1":
            chunk = "15" if layout.startswith("15", i) else "1"
        elif c == "2":
            chunk = "2006" if layout.startswith("2006", i) else "2"
        elif c == "_" and layout.startswith("_2", i):
            if layout.startswith("_2006", i):
                literal.append("_")
                i += 1
                chunk = "2006"
            else:
                chunk = "_2"
        elif c == "_" and layout.startswith("__2", i):
            chunk = "__2"
        elif c in "345":
            chunk = c
        elif c == "P" and layout.startswith("PM", i):
            chunk = "PM"
        elif c == "p" and layout.startswith("pm", i):
            chunk = "pm"
        elif c in "-Z":
            for cand in ("-07:00:00", "-070000", "-0700", "-07:00", "-07"):
                cand = c + cand[1:]
                if layout.startswith(cand, i):
                    chunk = cand
                    break
        elif c in ".,":
            m = _FRAC.match(layout, i)
            if m and not layout[m.end():m.end() + 1].isdigit():
                chunk = m.group(0)
        if chunk is None:
            literal.append(c)
            i += 1
            continue
        if literal:
            out.append("".join(literal))
            literal = []
        out.append((chunk, chunk))
        i += len(chunk)
    if literal:
        out.append("".join(literal))
    return out


def _tz_name(t: datetime) -> str:
    tz = t.tzinfo
    offset = t.utcoffset() or timedelta(0)
    if tz is None or tz is UTC or (isinstance(tz, timezone) and offset == timedelta(0)):
        return "UTC"
    if isinstance(tz, timezone):
        return ""
    return t.tzname() or ""


def _offset_text(t: datetime, chunk: str) -> str:
    secs = int((t.utcoffset() or timedelta(0)).total_seconds())
    if chunk.startswith("Z") and secs == 0:
        return "Z"
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    hh, mm, ss = secs // 3600, secs // 60 % 60, secs % 60
    body = chunk[1:]
    if body == "07":
        return f"{sign}{hh:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"


def format_time(t: datetime, layout: str) -> str:
    """Go's Time.Format for a Python datetime (naive datetimes are taken as UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    out: list[str] = []
    for part in _std_chunks(layout):
        if isinstance(part, str):
            out.append(part)
            continue
        chunk = part[0]
        if chunk == "2006":
            out.append(f"{t.year:04d}")
        elif chunk == "06":
            out.append(f"{t.year % 100:02d}")
        elif chunk == "January":
            out.append(MONTHS[t.month - 1])
        elif chunk == "Jan":
            out.append(MONTHS[t.month - 1][:3])
        elif chunk == "1":
            out.append(str(t.month))
        elif chunk == "01":
            out.append(f"{t.month:02d}")
        elif chunk == "Monday":
            out.append(DAYS[(t.weekday() + 1) % 7])
        elif chunk == "Mon":
            out.append(DAYS[(t.weekday() + 1) % 7][:3])
        elif chunk == "2":
            out.append(str(t.day))
        elif chunk == "_2":
            out.append(f"{t.day:2d}")
        elif chunk == "02":
            out.append(f"{t.day:02d}")
        elif chunk == "__2":
            out.append(f"{t.timetuple().tm_yday:3d}")
        elif chunk == "002":
            out.append(f"{t.timetuple().tm_yday:03d}")
        elif chunk == "15":
            out.append(f"{t.hour:02d}")
        elif chunk in ("3", "03"):
            hr = t.hour % 12 or 12
            out.append(str(hr) if chunk == "3" else f"{hr:02d}")
        elif chunk in ("4", "04"):
            out.append(str(t.minute) if chunk == "4" else f"{t.minute:02d}")
        elif chunk in ("5", "05"):
            out.append(str(t.second) if chunk == "5" else f"{t.second:02d}")
        elif chunk in ("PM", "pm"):
            text = "PM" if t.hour >= 12 else "AM"
            out.append(text if chunk == "PM" else text.lower())
        elif chunk == "MST":
            name = _tz_name(t)
            out.append(name or _offset_text(t, "-0700"))
        elif chunk[0] in "-Z":
            out.append(_offset_text(t, chunk))
        else:  # fractional seconds
            digits = len(chunk) - 1
            frac = f"{t.microsecond * 1000:09d}"[:digits]
            if chunk[1] == "9":
                frac = frac.rstrip("0")
                out.append(chunk[0] + frac if frac else "")
            else:
                out.append(chunk[0] + frac)
    return "".join(out)


class TimeParseError(ValueError):
    """The text does not match the layout."""


def _take_int(text: str, pos: int, min_len: int, max_len: int) -> tuple[int, int]:
    end = pos
    while end < len(text) and end - pos < max_len and text[end].isdigit():
        end += 1
    if end - pos < min_len:
        raise TimeParseError(f"cannot parse {text[pos:]!r}")
    return int(text[pos:end]), end


def _take_name(text: str, pos: int, names: tuple[str, ...], short: bool) -> tuple[int, int]:
    for i, name in enumerate(names):
        cand = name[:3] if short else name
        if text[pos:pos + len(cand)].lower() == cand.lower():
            return i, pos + len(cand)
    raise TimeParseError(f"cannot parse {text[pos:]!r}")


def parse_time(layout: str, text: str, tz: tzinfo = UTC) -> datetime:
    """time.ParseInLocation for the common layout elements."""
    year, month, day, hour, minute, second, micro = 1, 1, 1, 0, 0, 0, 0
    pm: bool | None = None
    offset: timedelta | None = None
    pos = 0
    parts = _std_chunks(layout)
    for idx, part in enumerate(parts):
        if isinstance(part, str):
            if not text.startswith(part, pos):
                raise TimeParseError(f"cannot parse {text[pos:]!r} as {part!r}")
            pos += len(part)
            continue
        chunk = part[0]
        if chunk == "2006":
            year, pos = _take_int(text, pos, 4, 4)
        elif chunk == "06":
            yy, pos = _take_int(text, pos, 2, 2)
            year = yy + (1900 if yy >= 69 else 2000)
        elif chunk in ("January", "Jan"):
            idx, pos = _take_name(text, pos, MONTHS, chunk == "Jan")
            month = idx + 1
        elif chunk in ("1", "01"):
            month, pos = _take_int(text, pos, 1 if chunk == "1" else 2, 2)
        elif chunk in ("Monday", "Mon"):
            _, pos = _take_name(text, pos, DAYS, chunk == "Mon")
        elif chunk in ("2", "_2", "02"):
            if chunk == "_2" and text[pos:pos + 1] == " ":
                pos += 1
            day, pos = _take_int(text, pos, 2 if chunk == "02" else 1, 2)
        elif chunk in ("__2", "002"):
            while chunk == "__2" and text[pos:pos + 1] == " ":
                pos += 1
            _, pos = _take_int(text, pos, 1, 3)
        elif chunk == "15":
            hour, pos = _take_int(text, pos, 1, 2)
        elif chunk in ("3", "03"):
            hour, pos = _take_int(text, pos, 1 if chunk == "3" else 2, 2)
        elif chunk in ("4", "04"):
            minute, pos = _take_int(text, pos, 1 if chunk == "4" else 2, 2)
        elif chunk in ("5", "05"):
            second, pos = _take_int(text, pos, 1 if chunk == "5" else 2, 2)
            later = [p for p in parts[idx + 1:] if isinstance(p, tuple)]
            frac_next = bool(later) and later[0][0][0] in ".,"
            if text[pos:pos + 1] in (".", ",") and not frac_next:
                end = pos + 1
                while end < len(text) and text[end].isdigit():
                    end += 1
                micro = int((text[pos + 1:end] + "000000")[:6] or "0")
                pos = end
        elif chunk in ("PM", "pm"):
            word = text[pos:pos + 2].upper()
            if word not in ("AM", "PM"):
                raise TimeParseError(f"cannot parse {text[pos:]!r}")
            pm, pos = word == "PM", pos + 2
        elif chunk == "MST":
            end = pos
            while end < len(text) and text[end].isalpha():
                end += 1
            if end - pos < 3:
                raise TimeParseError(f"cannot parse {text[pos:]!r}")
            if text[pos:end] == "UTC":
                offset = timedelta(0)
            pos = end
        elif chunk[0] in "-Z":
            if chunk[0] == "Z" and text[pos:pos + 1] == "Z":
                offset, pos = timedelta(0), pos + 1
                continue
            m = re.match(r"([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?", text[pos:])
            if not m:
                raise TimeParseError(f"cannot parse {text[pos:]!r}")
            secs = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60 + int(m.group(4) or 0)
            offset = timedelta(seconds=-secs if m.group(1) == "-" else secs)
            pos += m.end()
        else:
            end = pos + 1
            while end < len(text) and text[end].isdigit():
                end += 1
            if text[pos:pos + 1] in (".", ","):
                micro = int((text[pos + 1:end] + "000000")[:6] or "0")
                pos = end
    if pos != len(text):
        raise TimeParseError(f"extra text: {text[pos:]!r}")
    if pm is not None and hour < 12 and pm:
        hour += 12
    elif pm is False and hour == 12:
        hour = 0
    zone = timezone(offset) if offset is not None and offset != timedelta(0) else (
        UTC if offset is not None else tz)
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)


# ---------------------------------------------------------------------------------------
# Durations (in nanoseconds, as Go's time.Duration).

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DUR_RE = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int:
    """time.ParseDuration: ``"1h30m"``, ``"-1.5h"``, ``"300ms"`` -> nanoseconds."""
    s = text
    neg = s.startswith("-")
    if s[:1] in "+-" and s:
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"time: invalid duration {text!r}")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DUR_RE.match(s, pos)
        if not m or m.group(1) in ("", "."):
            raise ValueError(f"time: invalid duration {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return -round(total) if neg else round(total)


def format_duration(ns: int) -> str:
    """Duration.String: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = abs(ns)
    if u < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if u < size * 1000:
                text = _trim_frac(u, size) + unit
                break
    else:
        hours, rem = divmod(u, 3_600_000_000_000)
        minutes, rem = divmod(rem, 60_000_000_000)
        text = _trim_frac(rem, 1_000_000_000) + "s"
        if hours or minutes:
            text = f"{minutes}m" + text
        if hours:
            text = f"{hours}h" + text
    return ("-" if neg else "") + text


def _trim_frac(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    if not frac:
        return str(whole)
    width = len(str(size)) - 1
    return f"{whole}." + f"{frac:0{width}d}".rstrip("0")


# ---------------------------------------------------------------------------------------
# Methods a template may call on a time value (``.CreatedAt.Format "Jan 2"``).

def _add_date(t: datetime, years: int, months: int, days: int) -> datetime:
    month_index = t.year * 12 + (t.month - 1) + years * 12 + months
    year, month = divmod(month_index, 12)
    base = datetime(year, month + 1, 1, t.hour, t.minute, t.second, t.microsecond,
                    tzinfo=t.tzinfo)
    return base + timedelta(days=t.day - 1 + days)


ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

TIME_METHODS: dict[str, tuple[Signature, Callable[..., Any]]] = {
    "Format": (Signature(("string",)), format_time),
    "String": (Signature(()), lambda t: format_time(
        t, "2006-01-02 15:04:05.999999999 -0700 MST")),
    "Year": (Signature(()), lambda t: t.year),
    "Month": (Signature(()), lambda t: Month(t.month)),
    "Day": (Signature(()), lambda t: t.day),
    "Hour": (Signature(()), lambda t: t.hour),
    "Minute": (Signature(()), lambda t: t.minute),
    "Second": (Signature(()), lambda t: t.second),
    "Nanosecond": (Signature(()), lambda t: t.microsecond * 1000),
    "YearDay": (Signature(()), lambda t: t.timetuple().tm_yday),
    "Weekday": (Signature(()), lambda t: Weekday((t.weekday() + 1) % 7)),
    "Unix": (Signature(()), lambda t: int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp())),
    "UnixMilli": (Signature(()), lambda t: int(
        (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000)),
    "IsZero": (Signature(()), lambda t: (t if t.tzinfo else t.replace(tzinfo=UTC)) == ZERO_TIME),
    "UTC": (Signature(()), lambda t: t.astimezone(UTC)),
    "AddDate": (Signature(("int", "int", "int")), _add_date),
}
