"""Sprig's string, default, conversion and encoding functions (Masterminds/sprig v3).

Signatures are Sprig's Go signatures, so argument order and type errors match
(``"foo" | contains "f"``, ``repeat 3 "x"``). String positions are byte offsets, as in Go.
``sprig_funcs()`` assembles the whole Sprig set (this module plus funcs_sprig_data).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import posixpath
import secrets
import string
import unicodedata
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .gofmt import fmt_value
from .gojson import MarshalError, marshal, unmarshal
from .lexer import go_quote
from .sprig_core import (
    check_size,
    deep_equal,
    empty,
    go_kind,
    strslice,
    strval,
    to_float64,
    to_int64,
)
from .values import Int64, Signature, go_type_name

SPRIG: dict[str, Callable[..., Any]] = {}


F = TypeVar("F", bound=Callable[..., Any])


def reg(*names: str, params: tuple[str, ...] = (), variadic: str | None = None
        ) -> Callable[[F], F]:
    """Register fn under names with its Go signature."""

    def mark(fn: F) -> F:
        fn.__go_signature__ = Signature(params, variadic)  # type: ignore[attr-defined]
        for name in names:
            SPRIG[name] = fn
        return fn

    return mark


S, INT, A = "string", "int", "any"


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


# -- defaults ----------------------------------------------------------------------------

@reg("default", params=(A,), variadic=A)
def default(d: Any, *given: Any) -> Any:
    if not given or empty(given[0]):
        return d
    return given[0]


reg("empty", params=(A,))(empty)
reg("coalesce", variadic=A)(lambda *v: next((x for x in v if not empty(x)), None))
reg("all", variadic=A)(lambda *v: all(not empty(x) for x in v))
reg("any", variadic=A)(lambda *v: any(not empty(x) for x in v))
reg("ternary", params=(A, A, "bool"))(lambda vt, vf, v: vt if v else vf)
reg("deepCopy", "mustDeepCopy", params=(A,))(copy.deepcopy)
reg("deepEqual", params=(A, A))(deep_equal)


@reg("fail", params=(S,))
def fail(msg: str) -> str:
    raise ValueError(msg)


@reg("toJson", params=(A,))
def to_json(v: Any) -> str:
    try:
        return marshal(v)
    except MarshalError:
        return ""


@reg("mustToJson", params=(A,))
def must_to_json(v: Any) -> str:
    return marshal(v)


@reg("toPrettyJson", params=(A,))
def to_pretty_json(v: Any) -> str:
    try:
        return marshal(v, indent="  ")
    except MarshalError:
        return ""


reg("mustToPrettyJson", params=(A,))(lambda v: marshal(v, indent="  "))
reg("toRawJson", "mustToRawJson", params=(A,))(lambda v: marshal(v, escape_html=False))


@reg("fromJson", params=(S,))
def from_json(s: str) -> Any:
    try:
        return unmarshal(s)
    except ValueError:
        return None


@reg("mustFromJson", params=(S,))
def must_from_json(s: str) -> Any:
    try:
        return unmarshal(s)
    except ValueError as exc:
        raise ValueError(str(exc).split(":")[0]) from None


# -- conversion, reflection, encoding ------------------------------------------------------

@reg("atoi", params=(S,))
def atoi(s: str) -> int:
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        return 0
    value = int(s)
    return value if -(1 << 63) <= value < (1 << 63) else 0


reg("int64", params=(A,))(to_int64)
reg("int", params=(A,))(lambda v: int(to_int64(v)))
reg("float64", params=(A,))(to_float64)


@reg("toDecimal", params=(A,))
def to_decimal(v: Any) -> Int64:
    text = fmt_value(v)
    try:
        return Int64(int(text, 8))
    except ValueError:
        return Int64(0)


reg("typeOf", params=(A,))(lambda v: "<nil>" if v is None else go_type_name(v))
reg("kindOf", params=(A,))(go_kind)
reg("typeIs", params=(S, A))(lambda t, v: t == ("<nil>" if v is None else go_type_name(v)))
reg("typeIsLike", params=(S, A))(lambda t, v: t in (go_type_name(v), "*" + go_type_name(v)))
reg("kindIs", params=(S, A))(lambda k, v: k == go_kind(v))
reg("b64enc", params=(S,))(lambda s: base64.b64encode(s.encode()).decode())
reg("b32enc", params=(S,))(lambda s: base64.b32encode(s.encode()).decode())


@reg("b64dec", params=(S,))
def b64dec(s: str) -> str:
    try:
        return base64.b64decode(s.encode(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return "illegal base64 data at input byte 0"


@reg("b32dec", params=(S,))
def b32dec(s: str) -> str:
    try:
        return base64.b32decode(s.encode()).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return "illegal base32 data at input byte 0"


reg("sha1sum", params=(S,))(lambda s: hashlib.sha1(s.encode()).hexdigest())
reg("sha256sum", params=(S,))(lambda s: hashlib.sha256(s.encode()).hexdigest())
reg("sha512sum", params=(S,))(lambda s: hashlib.sha512(s.encode()).hexdigest())
reg("adler32sum", params=(S,))(lambda s: str(zlib.adler32(s.encode())))
reg("uuidv4")(lambda: str(uuid.uuid4()))


def _random(alphabet: str) -> Callable[[int], str]:
    def generate(count: int) -> str:
        if count < 0:
            raise ValueError("count must be non-negative")
        check_size(count)
        return "".join(secrets.choice(alphabet) for _ in range(count))

    return generate


reg("randAlphaNum", params=(INT,))(_random(string.ascii_letters + string.digits))
reg("randAlpha", params=(INT,))(_random(string.ascii_letters))
reg("randNumeric", params=(INT,))(_random(string.digits))
reg("randAscii", params=(INT,))(_random("".join(chr(c) for c in range(32, 127))))


# -- paths and URLs (string manipulation only; no file system) ----------------------------

def _clean(p: str) -> str:
    if not p:
        return "."
    cleaned = posixpath.normpath(p)
    return cleaned[1:] if cleaned.startswith("//") else cleaned


reg("base", params=(S,))(lambda p: posixpath.basename(_clean(p).rstrip("/")) or "/"
                         if p else ".")
reg("dir", params=(S,))(lambda p: _clean(posixpath.dirname(p)))
reg("clean", params=(S,))(_clean)


@reg("ext", params=(S,))
def ext(p: str) -> str:
    last = p.rsplit("/", 1)[-1]
    dot = last.rfind(".")
    return last[dot:] if dot >= 0 else ""


reg("isAbs", params=(S,))(lambda p: p.startswith("/"))


@reg("urlParse", params=(S,))
def url_parse(u: str) -> dict[str, Any]:
    parts = urlsplit(u)
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return {"scheme": parts.scheme, "host": parts.netloc.rpartition("@")[2],
            "hostname": parts.hostname or "", "path": parts.path, "query": parts.query,
            "opaque": "", "fragment": parts.fragment, "userinfo": userinfo}


@reg("urlJoin", params=("map",))
def url_join(d: dict[str, Any] | None) -> str:
    d = d or {}
    netloc = str(d.get("host", ""))
    if d.get("userinfo"):
        netloc = f"{d['userinfo']}@{netloc}"
    return urlunsplit((str(d.get("scheme", "")), netloc, str(d.get("path", "")),
                       str(d.get("query", "")), str(d.get("fragment", ""))))


def sprig_funcs(*, clock: Callable[[], datetime] | None = None,
                local_tz: tzinfo = UTC) -> dict[str, Callable[..., Any]]:
    """The Sprig function map (minus env, expandenv, getHostByName and file/crypto helpers).

    clock gives "now" (for now, date, ago...); local_tz is Go's time.Local.
    """
    from .funcs_sprig_data import data_funcs

    funcs = dict(SPRIG)
    funcs.update(data_funcs(clock or (lambda: datetime.now(local_tz)), local_tz))
    return funcs
