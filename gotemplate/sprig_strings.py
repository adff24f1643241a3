"""Sprig's string functions (Masterminds/sprig v3), in ``STRING_FUNCS``.

Signatures are Sprig's Go signatures, so argument order and type errors match
(``"foo" | contains "f"``, ``repeat 3 "x"``). String positions are byte offsets, as in Go.
``sprig.sprig_funcs()`` merges this table with the other Sprig modules'.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from .gofmt import fmt_value
from .gostrings import go_quote
from .sprig_core import (
    check_size,
    strslice,
    strval,
)
from .sprig_registry import INT, A, FunctionTable, S

STRING_FUNCS = FunctionTable()
reg = STRING_FUNCS.reg


def _go_is_space(c: str) -> bool:
    return c in "\t\n\v\f\r \x85\xa0" or unicodedata.category(c) == "Zs"


# -- strings -----------------------------------------------------------------------------

reg("upper", params=(S,))(lambda s: s.upper())
reg("lower", params=(S,))(lambda s: s.lower())


@reg("trim", params=(S,))
def trim(s: str) -> str:
    """strings.TrimSpace."""
    start, end = 0, len(s)
    while start < end and _go_is_space(s[start]):
        start += 1
    while end > start and _go_is_space(s[end - 1]):
        end -= 1
    return s[start:end]


reg("trimAll", "trimall", params=(S, S))(lambda a, b: b.strip(a) if a else b)
reg("trimPrefix", params=(S, S))(lambda a, b: b.removeprefix(a))
reg("trimSuffix", params=(S, S))(lambda a, b: b.removesuffix(a))
reg("contains", params=(S, S))(lambda sub, s: sub in s)
reg("hasPrefix", params=(S, S))(lambda p, s: s.startswith(p))
reg("hasSuffix", params=(S, S))(lambda p, s: s.endswith(p))
reg("replace", params=(S, S, S))(lambda old, new, src: src.replace(old, new))
reg("plural", params=(S, S, INT))(lambda one, many, n: one if n == 1 else many)
reg("toString", params=(A,))(strval)
reg("toStrings", params=(A,))(strslice)


@reg("title", params=(S,))
def title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    out, prev_sep = [], True
    for c in s:
        out.append(c.upper() if prev_sep else c)
        prev_sep = not (c.isalnum() or c == "_") if c.isascii() else _go_is_space(c)
    return "".join(out)


@reg("untitle", params=(S,))
def untitle(s: str) -> str:
    return s[:1].lower() + s[1:]


@reg("swapcase", params=(S,))
def swapcase(s: str) -> str:
    return "".join(c.lower() if c.isupper() or c.istitle() else c.upper() if c.islower()
                   else c for c in s)


@reg("repeat", params=(INT, S))
def repeat(count: int, s: str) -> str:
    if count < 0:
        raise ValueError("strings: negative Repeat count")
    check_size(count * len(s))
    return s * count


def _bytes_slice(s: str, start: int, end: int | None = None) -> str:
    data = s.encode()
    return data[start:end].decode("utf-8", "replace")


@reg("substr", params=(INT, INT, S))
def substr(start: int, end: int, s: str) -> str:
    size = len(s.encode())
    if start < 0:
        if end < 0 or end > size:
            raise ValueError(f"runtime error: slice bounds out of range [:{end}] with length "
                             f"{size}")
        return _bytes_slice(s, 0, end)
    if end < 0 or end > size:
        if start > size:
            raise ValueError(f"runtime error: slice bounds out of range [{start}:{size}]")
        return _bytes_slice(s, start)
    if start > end:
        raise ValueError(f"runtime error: slice bounds out of range [{start}:{end}]")
    return _bytes_slice(s, start, end)


@reg("trunc", params=(INT, S))
def trunc(c: int, s: str) -> str:
    size = len(s.encode())
    if c < 0 and size + c > 0:
        return _bytes_slice(s, size + c)
    if c >= 0 and size > c:
        return _bytes_slice(s, 0, c)
    return s


@reg("abbrev", params=(INT, S))
def abbrev(width: int, s: str) -> str:
    if width < 4 or len(s.encode()) <= width:
        return s
    return _bytes_slice(s, 0, width - 3) + "..."


@reg("abbrevboth", params=(INT, INT, S))
def abbrevboth(left: int, right: int, s: str) -> str:
    if right < 4 or (left > 0 and right < 7):
        return s
    size = len(s.encode())
    if not s or size <= right:
        return s
    offset = min(left, size)
    if size - offset < right - 3:
        offset = size - (right - 3)
    if offset <= 4:
        return _bytes_slice(s, 0, right - 3) + "..."
    if offset + right - 3 < size:
        return "..." + abbrev(right - 3, _bytes_slice(s, offset))
    return "..." + _bytes_slice(s, size - (right - 3))


def _byte_runes(s: str) -> str:
    """Each UTF-8 byte as a rune, as goutils' byte loops see a string."""
    return s.encode().decode("latin-1")


@reg("nospace", params=(S,))
def nospace(s: str) -> str:
    raw = _byte_runes(s)
    kept = "".join(c for c in raw if not _go_is_space(c))
    return s if len(kept) == len(raw) else kept


@reg("initials", params=(S,))
def initials(s: str) -> str:
    out, gap = [], True
    for c in _byte_runes(s):
        if _go_is_space(c):
            gap = True
        elif gap:
            out.append(c)
            gap = False
    return "".join(out)


@reg("wrap", params=(INT, S))
def wrap(width: int, s: str) -> str:
    return wrap_custom(s, width, "\n", False)


@reg("wrapWith", params=(INT, S, S))
def wrap_with(width: int, sep: str, s: str) -> str:
    return wrap_custom(s, width, sep, True)


def wrap_custom(s: str, width: int, newline: str, long_words: bool) -> str:
    """goutils.WrapCustom over UTF-8 bytes."""
    if not s:
        return ""
    newline = newline or "\n"
    width = max(width, 1)
    data, nl = s.encode(), newline.encode()
    out = bytearray()
    offset, n = 0, len(data)
    while n - offset > width:
        if data[offset:offset + 1] == b" ":
            offset += 1
            continue
        space = data.rfind(b" ", offset, width + offset + 1)
        if space >= offset:
            out += data[offset:space] + nl
            offset = space + 1
        elif long_words:
            out += data[offset:offset + width] + nl
            offset += width
        else:
            nxt = data.find(b" ", width + offset)
            if nxt < 0:
                out += data[offset:]
                offset = n
            else:
                out += data[offset:nxt] + nl
                offset = nxt + 1
    out += data[offset:]
    return out.decode("utf-8", "replace")


@reg("quote", variadic=A)
def quote(*args: Any) -> str:
    return " ".join(go_quote(strval(a)) for a in args if a is not None)


@reg("squote", variadic=A)
def squote(*args: Any) -> str:
    return " ".join("'" + fmt_value(a) + "'" for a in args if a is not None)


@reg("cat", variadic=A)
def cat(*args: Any) -> str:
    return " ".join(fmt_value(a) for a in args if a is not None)


@reg("indent", params=(INT, S))
def indent(spaces: int, s: str) -> str:
    check_size(max(spaces, 0) * (s.count("\n") + 1) + len(s))
    pad = " " * spaces
    return pad + s.replace("\n", "\n" + pad)


@reg("nindent", params=(INT, S))
def nindent(spaces: int, s: str) -> str:
    return "\n" + indent(spaces, s)


@reg("splitList", params=(S, S))
def split_list(sep: str, orig: str) -> list[str]:
    return list(orig) if sep == "" else orig.split(sep)


@reg("split", params=(S, S))
def split(sep: str, orig: str) -> dict[str, str]:
    return {f"_{i}": p for i, p in enumerate(split_list(sep, orig))}


@reg("splitn", params=(S, INT, S))
def splitn(sep: str, n: int, orig: str) -> dict[str, str]:
    if n == 0:
        return {}
    parts = orig.split(sep, n - 1) if n > 0 and sep else split_list(sep, orig)
    return {f"_{i}": p for i, p in enumerate(parts)}


@reg("join", params=(S, A))
def join(sep: str, v: Any) -> str:
    return sep.join(strslice(v))


@reg("sortAlpha", params=(A,))
def sort_alpha(v: Any) -> list[str]:
    if isinstance(v, list | tuple):
        return sorted(strslice(v), key=lambda s: s.encode())
    return [strval(v)]
