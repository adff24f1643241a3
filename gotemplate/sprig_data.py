"""Sprig's list, dict, math and date functions (Masterminds/sprig v3).

Arithmetic is int64 like Go (``add``, ``div`` truncate and wrap); lists keep Sprig's error
texts ("Cannot find first on type string"); date functions take an injected clock and
local time zone so renders are reproducible.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Context as DecimalContext
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .gotime import ZERO_TIME, format_duration, format_time, parse_duration, parse_time
from .sprig_core import (
    check_size,
    deep_equal,
    empty,
    go_kind,
    list_kind,
    strval,
    to_float64,
    to_int64,
    wrap64,
)
from .sprig_registry import FunctionTable
from .values import MISSING, Int64, Signature

A, INT, S = "any", "int", "string"
DATA_FUNCS = FunctionTable()
reg = DATA_FUNCS.reg


# -- lists -------------------------------------------------------------------------------

reg("list", "tuple", variadic=A)(lambda *v: list(v))
reg("first", "mustFirst", params=(A,))(
    lambda v: (list_kind(v, "find first") or [None])[0])
reg("last", "mustLast", params=(A,))(lambda v: (list_kind(v, "find last") or [None])[-1])
reg("rest", "mustRest", params=(A,))(lambda v: list_kind(v, "find rest")[1:])
reg("initial", "mustInitial", params=(A,))(lambda v: list_kind(v, "find initial")[:-1])
reg("append", "push", "mustAppend", "mustPush", params=(A, A))(
    lambda lst, v: [*list_kind(lst, "push"), v])
reg("prepend", "mustPrepend", params=(A, A))(lambda lst, v: [v, *list_kind(lst, "prepend")])
reg("reverse", "mustReverse", params=(A,))(lambda v: list_kind(v, "find reverse")[::-1])
reg("compact", "mustCompact", params=(A,))(
    lambda v: [x for x in list_kind(v, "compact") if not empty(x)])


@reg("uniq", "mustUniq", params=(A,))
def uniq(v: Any) -> list[Any]:
    out: list[Any] = []
    for item in list_kind(v, "find uniq"):
        if not any(deep_equal(item, seen) for seen in out):
            out.append(item)
    return out


@reg("without", "mustWithout", params=(A,), variadic=A)
def without(v: Any, *omit: Any) -> list[Any]:
    return [x for x in list_kind(v, "find without") if not any(deep_equal(x, o) for o in omit)]


@reg("has", "mustHas", params=(A, A))
def has(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    return any(deep_equal(needle, x) for x in list_kind(haystack, "find has"))


@reg("concat", variadic=A)
def concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for lst in lists:
        if not isinstance(lst, list | tuple):
            raise ValueError(f"Cannot concat type {go_kind(lst)} as list")
        out.extend(lst)
    check_size(len(out))
    return out


@reg("slice", "mustSlice", params=(A,), variadic=A)
def sprig_slice(v: Any, *indices: Any) -> Any:
    if not isinstance(v, list | tuple):
        raise ValueError(f"list should be type of slice or array but {go_kind(v)}")
    if not v:
        return None
    start = int(to_int64(indices[0])) if indices else 0
    end = int(to_int64(indices[1])) if len(indices) > 1 else len(v)
    if not 0 <= start <= end <= len(v):
        raise ValueError(f"reflect: slice index out of range [{start}:{end}]")
    return list(v[start:end])


@reg("chunk", "mustChunk", params=(INT, A))
def chunk(size: int, v: Any) -> list[list[Any]]:
    items = list_kind(v, "chunk")
    if size <= 0:
        raise ValueError("runtime error: integer divide by zero")
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


@reg("until", params=(INT,))
def until(count: int) -> list[int]:
    return until_step(0, count, 1 if count >= 0 else -1)


@reg("untilStep", params=(INT, INT, INT))
def until_step(start: int, stop: int, step: int) -> list[int]:
    if (stop < start and step >= 0) or (stop >= start and step <= 0):
        return []
    check_size(abs(stop - start) // abs(step))
    return list(range(start, stop, step))


@reg("seq", variadic=INT)
def seq(*params: int) -> str:
    if len(params) == 1:
        start, end, step = 1, params[0], 1 if params[0] >= 1 else -1
    elif len(params) == 2:
        start, end = params
        step = 1 if end >= start else -1
    elif len(params) == 3:
        start, step, end = params
        if end < start and step > 0:
            return ""
    else:
        return ""
    inc = -1 if end < start else 1
    return " ".join(str(i) for i in until_step(start, end + inc, step))


# -- dicts -------------------------------------------------------------------------------

@reg("dict", variadic=A)
def make_dict(*v: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(v), 2):
        out[strval(v[i])] = v[i + 1] if i + 1 < len(v) else ""
    return out


reg("get", params=("map", S))(lambda d, k: (d or {}).get(k, ""))
reg("hasKey", params=("map", S))(lambda d, k: k in (d or {}))
reg("keys", variadic="map")(lambda *ds: [k for d in ds for k in (d or {})])
reg("values", params=("map",))(lambda d: list((d or {}).values()))
reg("pick", params=("map",), variadic=S)(
    lambda d, *ks: {k: (d or {})[k] for k in ks if k in (d or {})})
reg("omit", params=("map",), variadic=S)(
    lambda d, *ks: {k: v for k, v in (d or {}).items() if k not in ks})
reg("pluck", params=(S,), variadic="map")(
    lambda key, *ds: [d[key] for d in ds if d and key in d])


@reg("set", params=("map", S, A))
def set_(d: dict[str, Any] | None, key: str, value: Any) -> dict[str, Any]:
    if d is None:
        raise ValueError("assignment to entry in nil map")
    d[key] = value
    return d


@reg("unset", params=("map", S))
def unset(d: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if d is not None:
        d.pop(key, None)
    return d


def _merge(dst: dict[str, Any], src: dict[str, Any], overwrite: bool) -> None:
    for key, value in src.items():
        current = dst.get(key, MISSING)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge(current, value, overwrite)
        elif current is MISSING or empty(current) or (overwrite and not empty(value)):
            dst[key] = value


@reg("merge", "mustMerge", params=("map",), variadic="map")
def merge(dst: dict[str, Any] | None, *srcs: dict[str, Any] | None) -> Any:
    target = dst if dst is not None else {}
    for src in srcs:
        _merge(target, src or {}, False)
    return target


@reg("mergeOverwrite", "mustMergeOverwrite", params=("map",), variadic="map")
def merge_overwrite(dst: dict[str, Any] | None, *srcs: dict[str, Any] | None) -> Any:
    target = dst if dst is not None else {}
    for src in srcs:
        _merge(target, src or {}, True)
    return target


@reg("dig", variadic=A)
def dig(*ps: Any) -> Any:
    if len(ps) < 3:
        raise ValueError("dig needs at least three arguments")
    d, default = ps[-1], ps[-2]
    for key in ps[:-2]:
        if not isinstance(d, dict):
            raise ValueError("interface conversion: interface {} is not map[string]interface {}")
        if key not in d:
            return default
        d = d[key]
    return d


# -- math --------------------------------------------------------------------------------

def _div(a: int, b: int) -> int:
    if b == 0:
        raise ValueError("runtime error: integer divide by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


reg("add", variadic=A)(lambda *v: wrap64(sum(to_int64(x) for x in v)))
reg("add1", params=(A,))(lambda v: wrap64(to_int64(v) + 1))
reg("sub", params=(A, A))(lambda a, b: wrap64(to_int64(a) - to_int64(b)))
reg("div", params=(A, A))(lambda a, b: wrap64(_div(to_int64(a), to_int64(b))))
reg("mod", params=(A, A))(lambda a, b: wrap64(
    to_int64(a) - _div(to_int64(a), to_int64(b)) * to_int64(b)))
reg("max", "biggest", params=(A,), variadic=A)(
    lambda a, *v: Int64(max([to_int64(a), *(to_int64(x) for x in v)])))
reg("min", params=(A,), variadic=A)(
    lambda a, *v: Int64(min([to_int64(a), *(to_int64(x) for x in v)])))
reg("maxf", params=(A,), variadic=A)(
    lambda a, *v: max([to_float64(a), *(to_float64(x) for x in v)]))
reg("minf", params=(A,), variadic=A)(
    lambda a, *v: min([to_float64(a), *(to_float64(x) for x in v)]))
reg("floor", params=(A,))(lambda a: float(math.floor(to_float64(a))))
reg("ceil", params=(A,))(lambda a: float(math.ceil(to_float64(a))))
reg("randInt", params=(INT, INT))(lambda lo, hi: lo + secrets.randbelow(hi - lo))


@reg("mul", params=(A,), variadic=A)
def mul(a: Any, *v: Any) -> Int64:
    value = to_int64(a)
    for x in v:
        value = wrap64(value * to_int64(x))
    return Int64(value)


@reg("round", params=(A, INT), variadic="float64")
def round_(a: Any, places: int, *round_on: float) -> float:
    on = round_on[0] if round_on else 0.5
    pow10 = math.pow(10, places)
    digit = pow10 * to_float64(a)
    frac = math.modf(digit)[0]
    return (math.ceil(digit) if frac >= on else math.floor(digit)) / pow10


_DEC = DecimalContext(prec=34)


def _decimal_op(op: str) -> Callable[..., float]:
    def run(a: Any, *rest: Any) -> float:
        acc = Decimal(repr(to_float64(a)))
        for x in rest:
            d = Decimal(repr(to_float64(x)))
            try:
                acc = {"add": _DEC.add, "sub": _DEC.subtract, "mul": _DEC.multiply,
                       "div": _DEC.divide}[op](acc, d)
            except (DivisionByZero, InvalidOperation):
                raise ValueError("decimal division by 0") from None
        return float(acc)

    return run


reg("addf", variadic=A)(lambda *v: _decimal_op("add")(0.0, *v))
reg("add1f", params=(A,))(lambda a: _decimal_op("add")(a, 1))
reg("subf", params=(A,), variadic=A)(_decimal_op("sub"))
reg("mulf", params=(A,), variadic=A)(_decimal_op("mul"))
reg("divf", params=(A,), variadic=A)(_decimal_op("div"))


# -- dates -------------------------------------------------------------------------------

def _zone(name: str, local: tzinfo) -> tzinfo:
    if name == "Local":
        return local
    if name in ("", "UTC"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def data_funcs(clock: Callable[[], datetime], local: tzinfo) -> dict[str, Callable[..., Any]]:
    """The clock- and zone-dependent Sprig date functions."""

    def when(v: Any) -> datetime:
        if isinstance(v, datetime):
            return _aware(v)
        if isinstance(v, int) and not isinstance(v, bool):
            return datetime.fromtimestamp(v, UTC)
        return _aware(clock())

    def date_in_zone(fmt: str, v: Any, zone: str) -> str:
        return format_time(when(v).astimezone(_zone(zone, local)), fmt)

    def ago(v: Any) -> str:
        total = (_aware(clock()) - when(v)).total_seconds()
        seconds = int(math.copysign(math.floor(abs(total) + 0.5), total))
        return format_duration(seconds * 1_000_000_000)

    def duration(v: Any) -> str:
        n = 0
        if isinstance(v, str):
            n = int(v) if v.lstrip("+-").isdigit() and v.isascii() else 0
        elif isinstance(v, Int64):
            n = int(v)
        return format_duration(n * 1_000_000_000)

    def duration_round(v: Any) -> str:
        ns = 0
        if isinstance(v, str):
            try:
                ns = parse_duration(v)
            except ValueError:
                ns = 0
        elif isinstance(v, Int64):
            ns = int(v)
        elif isinstance(v, datetime):
            ns = int((_aware(clock()) - _aware(v)).total_seconds() * 1e9)
        u = abs(ns)
        hour = 3_600_000_000_000
        for size, unit in ((hour * 24 * 365, "y"), (hour * 24 * 30, "mo"), (hour * 24, "d"),
                           (hour, "h"), (60_000_000_000, "m"), (1_000_000_000, "s")):
            if u > size:
                return f"{u // size}{unit}"
        return "0s"

    def date_modify(fmt: str, t: datetime) -> datetime:
        try:
            return t + timedelta(microseconds=parse_duration(fmt) // 1000)
        except ValueError:
            return t

    def must_date_modify(fmt: str, t: datetime) -> datetime:
        return t + timedelta(microseconds=parse_duration(fmt) // 1000)

    def to_date(fmt: str, text: str) -> datetime:
        try:
            return parse_time(fmt, text, local)
        except (ValueError, OverflowError):
            return ZERO_TIME

    def must_to_date(fmt: str, text: str) -> datetime:
        try:
            return parse_time(fmt, text, local)
        except (ValueError, OverflowError) as exc:
            raise ValueError(f"parsing time {text!r} as {fmt!r}: {exc}") from None

    specs: list[tuple[tuple[str, ...], Callable[..., Any], Signature]] = [
        (("now",), lambda: _aware(clock()), Signature(())),
        (("date",), lambda fmt, v: date_in_zone(fmt, v, "Local"), Signature((S, A))),
        (("dateInZone", "date_in_zone"), date_in_zone, Signature((S, A, S))),
        (("htmlDate",), lambda v: date_in_zone("2006-01-02", v, "Local"), Signature((A,))),
        (("htmlDateInZone",), lambda v, z: date_in_zone("2006-01-02", v, z),
         Signature((A, S))),
        (("ago",), ago, Signature((A,))),
        (("duration",), duration, Signature((A,))),
        (("durationRound",), duration_round, Signature((A,))),
        (("dateModify", "date_modify"), date_modify, Signature((S, "time"))),
        (("mustDateModify", "must_date_modify"), must_date_modify, Signature((S, "time"))),
        (("toDate",), to_date, Signature((S, S))),
        (("mustToDate",), must_to_date, Signature((S, S))),
        (("unixEpoch",), lambda t: str(int(_aware(t).timestamp())), Signature(("time",))),
    ]
    out: dict[str, Callable[..., Any]] = {}
    for names, fn, sig in specs:
        fn.__go_signature__ = sig  # type: ignore[attr-defined]
        for name in names:
            out[name] = fn
    return out

