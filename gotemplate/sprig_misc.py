"""Sprig's default, JSON, conversion, reflection, encoding, random, path and URL
functions (Masterminds/sprig v3). Paths are string manipulation only: no file system.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import posixpath
import secrets
import string
import uuid
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .gofmt import fmt_value
from .gojson import MarshalError, marshal, unmarshal
from .sprig_core import (
    check_size,
    deep_equal,
    empty,
    go_kind,
    to_float64,
    to_int64,
)
from .sprig_registry import INT, A, FunctionTable, S
from .values import Int64, go_type_name

MISC_FUNCS = FunctionTable()
reg = MISC_FUNCS.reg


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
reg("deepCopy", "mustDeepCopy", params=(A,))(lambda v: copy.deepcopy(v))
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
