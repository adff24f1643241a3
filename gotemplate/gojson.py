"""encoding/json's Marshal as templates observe it (toJson, and values in <script>).

Go specifics kept: ``<``, ``>``, ``&`` escaped as ``\\u003c``-style escapes (unless raw),
U+2028/U+2029 escaped, map keys sorted, floats as in Go (``5`` not ``5.0``, exponent form
only below 1e-6 or from 1e21), times as RFC 3339 strings, structs as their exposed fields.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from .gofmt import format_float, struct_fields
from .values import MISSING

_HEX = "0123456789abcdef"
_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
          "\f": "\\f"}
_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


class MarshalError(ValueError):
    """A value encoding/json cannot represent."""


def quote(s: str, escape_html: bool = True) -> str:
    out = ['"']
    for ch in s:
        if ch in _SHORT:
            out.append(_SHORT[ch])
        elif escape_html and ch in _HTML:
            out.append(_HTML[ch])
        elif ch < " ":
            out.append("\\u00" + _HEX[ord(ch) >> 4] + _HEX[ord(ch) & 15])
        elif ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _float(f: float) -> str:
    if f != f or f in (float("inf"), float("-inf")):
        raise MarshalError(f"json: unsupported value: {format_float(f)}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        text = format_float(f, "e", None)
        if len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
            text = text[:-2] + text[-1]
        return text
    return format_float(f, "f", None)


def marshal(value: Any, indent: str | None = None, escape_html: bool = True,
            _level: int = 0) -> str:
    """json.Marshal (or MarshalIndent with prefix "" when indent is given)."""
    if _level > 200:
        raise MarshalError("json: unsupported value: encountered a cycle")
    if value is None or value is MISSING:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return quote(value, escape_html)
    if isinstance(value, datetime):
        from .gotime import format_time

        return quote(format_time(value, "2006-01-02T15:04:05.999999999Z07:00"), escape_html)
    if isinstance(value, Decimal):
        return _float(float(value))
    if isinstance(value, UUID | date):
        return quote(str(value), escape_html)
    items: list[tuple[str | None, Any]]
    if isinstance(value, list | tuple):
        items = [(None, v) for v in value]
        open_, close = "[", "]"
    elif isinstance(value, dict):
        items = [(k, v) for k, v in sorted((str(k), v) for k, v in value.items())]
        open_, close = "{", "}"
    elif callable(value):
        raise MarshalError("json: unsupported type: func()")
    else:
        items = [(k, v) for k, v in struct_fields(value)]
        open_, close = "{", "}"
    if not items:
        return open_ + close
    parts = []
    for key, v in items:
        encoded = marshal(v, indent, escape_html, _level + 1)
        if key is not None:
            sep = ": " if indent is not None else ":"
            encoded = quote(key, escape_html) + sep + encoded
        parts.append(encoded)
    if indent is None:
        return open_ + ",".join(parts) + close
    pad = "\n" + indent * (_level + 1)
    return open_ + pad + ("," + pad).join(parts) + "\n" + indent * _level + close


def unmarshal(text: str) -> Any:
    """json.Unmarshal into interface{}: numbers become float64, as in Go."""
    import json

    return json.loads(text, parse_int=float, parse_constant=_reject)


def _reject(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def go_json_value(value: Any) -> Any:
    """Already-decoded JSON data with Go's number semantics: every number a float64.

    listmonk reads subscriber attributes into map[string]interface{}, so ``5`` is the
    float64 5: it prints ``5``, but ``eq .Subscriber.Attribs.n 5`` is a type error and
    ``1000000`` prints as ``1e+06``. Pass attribs through this to get the same results.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list | tuple):
        return [go_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): go_json_value(v) for k, v in value.items()}
    return value
