"""Go literal syntax used inside actions: quoted strings, rune constants and numbers.

These follow strconv.Unquote / strconv.ParseInt(base 0) / strconv.ParseFloat, so that
``"\\u00e9"``, `` `raw` ``, ``'a'``, ``0x1F``, ``017``, ``1_000`` and ``1e3`` mean what
they mean in Go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\"}
_INT_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)")
_EXP = r"([eE][+-]?\d[\d_]*)?"
_FLOAT_RE = re.compile(r"[+-]?(\d[\d_]*\.?[\d_]*" + _EXP + r"|\.\d[\d_]*" + _EXP + ")")
_HEX_FLOAT_RE = re.compile(r"[+-]?0[xX][0-9a-fA-F_]*\.?[0-9a-fA-F_]*[pP][+-]?\d+")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class LiteralError(ValueError):
    """A literal Go would reject; the message is Go's."""


def unquote_char(s: str, i: int, quote: str) -> tuple[str, int]:
    """Decode one possibly-escaped character of a quoted literal starting at s[i]."""
    ch = s[i]
    if ch != "\\":
        if ch == quote:
            raise LiteralError("invalid syntax")
        return ch, i + 1
    if i + 1 >= len(s):
        raise LiteralError("invalid syntax")
    esc = s[i + 1]
    if esc in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[esc], i + 2
    if esc in "'\"":
        if esc != quote:
            raise LiteralError("invalid syntax")
        return esc, i + 2
    width = {"x": 2, "u": 4, "U": 8}.get(esc)
    if width is not None:
        digits = s[i + 2:i + 2 + width]
        if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise LiteralError("invalid syntax")
        code = int(digits, 16)
        if esc == "x":
            return chr(code), i + 2 + width
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise LiteralError("invalid syntax")
        return chr(code), i + 2 + width
    if esc in "01234567":
        digits = s[i + 1:i + 4]
        if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
            raise LiteralError("invalid syntax")
        return chr(int(digits, 8)), i + 4
    raise LiteralError("invalid syntax")


def unquote(quoted: str) -> str:
    """strconv.Unquote for "..." and `...` literals."""
    if len(quoted) < 2 or quoted[0] != quoted[-1]:
        raise LiteralError("invalid syntax")
    body = quoted[1:-1]
    if quoted[0] == "`":
        if "`" in body:
            raise LiteralError("invalid syntax")
        return body.replace("\r", "")
    if quoted[0] != '"' or "\n" in body:
        raise LiteralError("invalid syntax")
    if "\\" not in body and '"' not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch, i = unquote_char(body, i, '"')
        out.append(ch)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Number:
    """What a numeric constant can be used as (Go's NumberNode flags)."""

    is_int: bool
    is_float: bool
    int_value: int
    float_value: float


def parse_char_constant(text: str) -> Number:
    """A rune constant such as 'a' or '\\n'."""
    body = text[1:]
    ch, end = unquote_char(body, 0, "'")
    if body[end:] != "'":
        raise LiteralError(f"malformed character constant: {text}")
    return Number(True, True, ord(ch), float(ord(ch)))


def _parse_go_int(text: str) -> int | None:
    if not _INT_RE.fullmatch(text):
        return None
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if "__" in digits or digits.endswith("_"):
        return None
    try:
        if len(digits) > 1 and digits[0] == "0" and digits[1] in "01234567_":
            value = int(digits[1:].lstrip("_") or "0", 8)
        else:
            value = int(digits, 0)
    except ValueError:
        return None
    value *= sign
    return value if INT64_MIN <= value <= INT64_MAX else None


def parse_number(text: str) -> Number:
    """Classify and evaluate a numeric constant the way parse.newNumber does."""
    if text.endswith("i"):
        raise LiteralError(f"complex constants are not supported: {text}")
    as_int = _parse_go_int(text)
    if as_int is not None:
        return Number(True, True, as_int, float(as_int))
    value: float | None = None
    cleaned = text.replace("_", "")
    if _HEX_FLOAT_RE.fullmatch(text):
        value = float.fromhex(cleaned)
    elif _FLOAT_RE.fullmatch(text):
        value = float(cleaned)
    if value is None:
        raise LiteralError(f"illegal number syntax: {quote_go(text)}")
    if not any(c in text for c in ".eEpP"):
        raise LiteralError(f"integer overflow: {quote_go(text)}")
    is_int = value.is_integer() and INT64_MIN <= value <= INT64_MAX
    return Number(is_int, True, int(value) if is_int else 0, value)


def quote_go(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
