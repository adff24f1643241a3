"""text/template's predefined functions: and or not eq ne lt le gt ge len index slice print
printf println html js urlquery call, with Go's comparison and indexing rules and errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from .evaluate import FuncEntry
from .gofmt import fmt_value, sprint, sprintf, sprintln
from .gostrings import is_print
from .values import MISSING, Signature, go_type_name, is_true, signature_of


def _nil(v: Any) -> Any:
    return None if v is MISSING else v


def basic_kind(v: Any) -> str | None:
    """Go's basicKind: the comparable scalar kinds; None for nil and composite values."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return None


def _composite(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, list | tuple):
        return "slice"
    if isinstance(v, dict):
        return "map"
    if callable(v):
        return "func"
    return "struct"


def eq(arg1: Any, *args: Any) -> bool:
    """eq a b c...: a == b || a == c ...; mixed kinds are an error unless one side is nil."""
    a = _nil(arg1)
    if not args:
        raise ValueError("missing argument for comparison")
    k1 = basic_kind(a)
    for raw in args:
        b = _nil(raw)
        k2 = basic_kind(b)
        if k1 != k2:
            if a is not None and b is not None:
                raise ValueError(f"incompatible types for comparison: {go_type_name(a)} and "
                                 f"{go_type_name(b)}")
            truth = False
        elif k1 is not None:
            truth = a == b
        else:
            c1, c2 = _composite(a), _composite(b)
            if c1 != c2 and "nil" not in (c1, c2):
                raise ValueError(f"non-comparable types {fmt_value(a)}: {go_type_name(a)}, "
                                 f"{go_type_name(b)}: {fmt_value(b)}")
            if a is None or b is None:
                truth = a is None and b is None
            elif c1 in ("slice", "map", "func"):
                raise ValueError(f"non-comparable type {fmt_value(b)}: {go_type_name(b)}")
            else:
                truth = a == b
        if truth:
            return True
    return False


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def lt(arg1: Any, arg2: Any) -> bool:
    a, b = _nil(arg1), _nil(arg2)
    k1, k2 = basic_kind(a), basic_kind(b)
    if k1 is None or k2 is None:
        raise ValueError("invalid type for comparison")
    if k1 != k2:
        raise ValueError(f"incompatible types for comparison: {go_type_name(a)} and "
                         f"{go_type_name(b)}")
    if k1 == "bool":
        raise ValueError("invalid type for comparison")
    if k1 == "string":
        return bool(str(a).encode() < str(b).encode())
    return bool(a < b)


def le(a: Any, b: Any) -> bool:
    return lt(a, b) or eq(a, b)


def gt(a: Any, b: Any) -> bool:
    return not le(a, b)


def ge(a: Any, b: Any) -> bool:
    return not lt(a, b)


def not_(arg: Any) -> bool:
    return not is_true(arg)


def length(item: Any) -> int:
    item = _nil(item)
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, list | tuple | dict):
        return len(item)
    if item is None:
        raise ValueError("len of nil pointer")
    raise ValueError(f"len of type {go_type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    index = _nil(index)
    if index is None:
        raise ValueError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"cannot index slice/array with type {go_type_name(index)}")
    if index < 0 or index > cap:
        raise ValueError(f"index out of range: {index}")
    return index


def index(item: Any, *indexes: Any) -> Any:
    """index x 1 2: x[1][2] over lists, strings (bytes) and maps (missing key -> nil)."""
    item = _nil(item)
    if item is None:
        raise ValueError("index of untyped nil")
    for raw in indexes:
        if item is None:
            raise ValueError("index of nil pointer")
        if isinstance(item, str):
            data = item.encode()
            x = _index_arg(raw, len(data))
            if x == len(data):
                raise ValueError("reflect: string index out of range")
            item = data[x]
        elif isinstance(item, list | tuple):
            x = _index_arg(raw, len(item))
            if x == len(item):
                raise ValueError("reflect: slice index out of range")
            item = item[x]
        elif isinstance(item, dict):
            key = _nil(raw)
            if key is not None and not isinstance(key, str):
                raise ValueError(f"value has type {go_type_name(key)}; should be string")
            item = item.get(key) if key is not None else None
        else:
            raise ValueError(f"can't index item of type {go_type_name(item)}")
    return item


def slice_(item: Any, *indexes: Any) -> Any:
    """slice x 1 2: x[1:2] over strings (bytes) and lists."""
    item = _nil(item)
    if item is None:
        raise ValueError("slice of untyped nil")
    if len(indexes) > 3:
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise ValueError("cannot 3-index slice a string")
        size = len(item.encode())
    elif isinstance(item, list | tuple):
        size = len(item)
    else:
        raise ValueError(f"can't slice item of type {go_type_name(item)}")
    idx = [0, size, size]
    for i, raw in enumerate(indexes):
        idx[i] = _index_arg(raw, size)
    if idx[0] > idx[1]:
        raise ValueError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise ValueError(f"invalid slice index: {idx[1]} > {idx[2]}")
    if isinstance(item, str):
        return item.encode()[idx[0]:idx[1]].decode("utf-8", "replace")
    return list(item[idx[0]:idx[1]])


def eval_args(*args: Any) -> str:
    """Sprint with template printing rules: nil arguments print as <no value>."""
    if len(args) == 1 and isinstance(args[0], str):
        return str(args[0])
    return sprint(*("<no value>" if a is None or a is MISSING else a for a in args))


def html_escape_string(s: str) -> str:
    """text/template's HTMLEscapeString."""
    return (s.replace("&", "&amp;").replace("'", "&#39;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&#34;").replace("\0", "\ufffd"))


def html(*args: Any) -> str:
    return html_escape_string(eval_args(*args))


_JS_SPECIAL = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E",
               "&": "\\u0026", "=": "\\u003D"}


def js_escape_string(s: str) -> str:
    """text/template's JSEscapeString."""
    out = []
    for ch in s:
        if ch in _JS_SPECIAL:
            out.append(_JS_SPECIAL[ch])
        elif ch < " ":
            out.append(f"\\u{ord(ch):04X}")
        elif ord(ch) < 0x80 or is_print(ch):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04X}")
    return "".join(out)


def js(*args: Any) -> str:
    return js_escape_string(eval_args(*args))


def urlquery(*args: Any) -> str:
    return quote_plus(eval_args(*args), safe="")


def call(fn: Any, *args: Any) -> Any:
    fn = _nil(fn)
    if fn is None:
        raise ValueError("call of nil")
    if not callable(fn):
        raise ValueError(f"non-function of type {go_type_name(fn)}")
    sig = signature_of(fn)
    fixed = len(sig.params)
    if sig.variadic is not None and len(args) < fixed:
        raise ValueError(f"wrong number of args: got {len(args)} want at least {fixed}")
    if sig.variadic is None and len(args) != fixed:
        raise ValueError(f"wrong number of args: got {len(args)} want {fixed}")
    return fn(*(_nil(a) for a in args))


def printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, *args)


_VALUE = Signature(("value",))
_VARIADIC_ANY = Signature((), "any")
_SPECS: dict[str, tuple[Callable[..., Any], Signature]] = {
    "and": (lambda *a: a[-1], Signature(("value",), "value")),
    "or": (lambda *a: a[-1], Signature(("value",), "value")),
    "not": (not_, _VALUE),
    "eq": (eq, Signature(("value",), "value")),
    "ne": (ne, Signature(("value", "value"))),
    "lt": (lt, Signature(("value", "value"))),
    "le": (le, Signature(("value", "value"))),
    "gt": (gt, Signature(("value", "value"))),
    "ge": (ge, Signature(("value", "value"))),
    "len": (length, _VALUE),
    "index": (index, Signature(("value",), "value")),
    "slice": (slice_, Signature(("value",), "value")),
    "print": (sprint, _VARIADIC_ANY),
    "printf": (printf, Signature(("string",), "any")),
    "println": (sprintln, _VARIADIC_ANY),
    "html": (html, _VARIADIC_ANY),
    "js": (js, _VARIADIC_ANY),
    "urlquery": (urlquery, _VARIADIC_ANY),
    "call": (call, Signature(("value",), "value")),
}

BUILTINS: dict[str, FuncEntry] = {
    name: FuncEntry(name, fn, sig, builtin=True) for name, (fn, sig) in _SPECS.items()
}
