"""Value helpers shared by the Sprig functions: Go-style conversions (spf13/cast), strval,
emptiness, deep equality and int64 arithmetic.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from .gofmt import fmt_value, stringer
from .values import MISSING, Int64, is_struct

MAX_RESULT = 8 * 1024 * 1024


def wrap64(n: int) -> Int64:
    """Wrap to int64 like Go's integer overflow."""
    return Int64(((n + (1 << 63)) % (1 << 64)) - (1 << 63))


def check_size(n: int) -> None:
    if n > MAX_RESULT:
        raise ValueError("result too large")


def go_kind(v: Any) -> str:
    """reflect.Kind name of a value, as Sprig's error messages print it."""
    if v is None or v is MISSING:
        return "invalid"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Int64):
        return "int64"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list | tuple):
        return "slice"
    if isinstance(v, dict):
        return "map"
    if callable(v) and not is_struct(v):
        return "func"
    return "struct"


def list_kind(v: Any, action: str) -> list[Any]:
    """The items of a slice, or Sprig's "Cannot <action> on type <kind>" error."""
    if v is None or v is MISSING:
        raise ValueError("runtime error: invalid memory address or nil pointer dereference")
    if not isinstance(v, list | tuple):
        raise ValueError(f"Cannot {action} on type {go_kind(v)}")
    return list(v)


def strval(v: Any) -> str:
    """Sprig's strval: strings as they are, Stringers via String(), else %v."""
    if isinstance(v, str):
        return str(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    s = stringer(v)
    return s if s is not None else fmt_value(v)


def strslice(v: Any) -> list[str]:
    if isinstance(v, list | tuple):
        return [strval(x) for x in v if x is not None and x is not MISSING]
    if v is None or v is MISSING:
        return []
    return [strval(v)]


def empty(v: Any) -> bool:
    """Sprig's empty: nil, false, 0, "" and empty collections; structs never."""
    if v is None or v is MISSING:
        return True
    if isinstance(v, bool):
        return not v
    if isinstance(v, int | float):
        return v == 0
    if isinstance(v, str | list | tuple | dict):
        return len(v) == 0
    return False


def deep_equal(a: Any, b: Any) -> bool:
    """reflect.DeepEqual on Go-like values (1 and 1.0 differ)."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(deep_equal(a[k], b[k]) for k in a)
    if type(a) is not type(b) and not (isinstance(a, int) and isinstance(b, int)
                                       and not isinstance(a, bool) and not isinstance(b, bool)):
        return False
    return bool(a == b)


_ZERO_DECIMAL = re.compile(r"^([+-]?\d+)\.0*$")
_GO_INT = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)")


def parse_go_int(s: str) -> int | None:
    """strconv.ParseInt(s, 0, 64) after cast's trimming of a zero decimal part."""
    m = _ZERO_DECIMAL.match(s)
    if m:
        s = m.group(1)
    if not _GO_INT.fullmatch(s):
        return None
    sign = -1 if s.startswith("-") else 1
    body = s.lstrip("+-")
    try:
        if len(body) > 1 and body[0] == "0" and body[1] in "01234567_":
            value = int(body[1:], 8)
        else:
            value = int(body, 0)
    except ValueError:
        return None
    value *= sign
    return value if -(1 << 63) <= value < (1 << 63) else None


def to_int64(v: Any) -> Int64:
    """cast.ToInt64: numbers truncate, numeric strings parse, everything else is 0."""
    if isinstance(v, bool):
        return Int64(1 if v else 0)
    if isinstance(v, int):
        return wrap64(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return Int64(-(1 << 63))
        return wrap64(int(v))
    if isinstance(v, str):
        parsed = parse_go_int(v)
        return Int64(parsed) if parsed is not None else Int64(0)
    return Int64(0)


def to_float64(v: Any) -> float:
    """cast.ToFloat64."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v) if v.strip() == v and "_" not in v else 0.0
        except ValueError:
            return 0.0
    return 0.0


def as_time(v: Any) -> datetime | None:
    """A datetime value, if v is one (dates count as midnight)."""
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    return None
