"""The Go value model the template engine works on, expressed with Python values.

Templates written for listmonk were executed by Go's text/template over Go values. To
reproduce their output we map Python values onto the Go kinds the engine reasons about:
``None`` is a nil interface, ``MISSING`` is Go's "invalid" value (what a missing map key
yields), ``bool``/``int``/``float``/``str`` are Go's bool/int/float64/string, lists are
slices, dicts are maps, ``datetime`` is ``time.Time`` and the ``str`` subclasses below are
html/template's typed, trusted content. Anything else is an opaque struct: a template can
only read the members its class explicitly exposes (see ``exposed_members``).
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID


class TemplateError(Exception):
    """A parse, escaping or execution error, worded like Go's template errors."""


class LimitExceeded(TemplateError):
    """Rendering went over one of the sandbox limits (steps, output size, depth)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Sandbox bounds for one render: work done, text produced, template nesting."""

    max_steps: int = 500_000
    max_output: int = 8 * 1024 * 1024
    max_depth: int = 100
    max_items: int = 1_000_000


class _Missing:
    """Go's invalid reflect.Value: the result of reading a key a map does not have."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
# The basic Go kinds (a tuple: ``isinstance`` checks it several times faster than a union).
_BASIC = (str, int, float, list, tuple, dict, date, Decimal, UUID, _Missing)


class HTML(str):
    """Trusted HTML (Go's template.HTML): emitted unescaped in HTML text."""


class CSS(str):
    """Trusted CSS (template.CSS)."""


class HTMLAttr(str):
    """A trusted attribute such as ``dir="ltr"`` (template.HTMLAttr)."""


class JS(str):
    """A trusted JavaScript expression (template.JS)."""


class JSStr(str):
    """Trusted characters for inside a JavaScript string literal (template.JSStr)."""


class URL(str):
    """A trusted URL that bypasses the scheme filter (template.URL)."""


class Srcset(str):
    """A trusted srcset attribute value (template.Srcset)."""


TYPED_STRINGS: Final = {
    HTML: "template.HTML", CSS: "template.CSS", HTMLAttr: "template.HTMLAttr",
    JS: "template.JS", JSStr: "template.JSStr", URL: "template.URL",
    Srcset: "template.Srcset",
}


class Int64(int):
    """A Go int64 (what Sprig's arithmetic returns); distinct from int for ``duration``."""


class Month(int):
    """time.Month: an int that prints as its English name."""

    NAMES: Final = ("January", "February", "March", "April", "May", "June", "July",
                    "August", "September", "October", "November", "December")

    def go_string(self) -> str:
        return self.NAMES[self - 1] if 1 <= self <= 12 else f"%!Month({int(self)})"


class Weekday(int):
    """time.Weekday (Sunday = 0): an int that prints as its English name."""

    NAMES: Final = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                    "Saturday")

    def go_string(self) -> str:
        return self.NAMES[self] if 0 <= self <= 6 else f"%!Weekday({int(self)})"


# ---------------------------------------------------------------------------------------
# Function signatures.

@dataclass(frozen=True, slots=True)
class Signature:
    """Go parameter types of a template function: fixed params plus an optional ``...T``.

    Type names: ``any`` (interface{}), ``value`` (reflect.Value: sees missing values),
    ``string``, ``int``, ``float64``, ``bool``, ``map``, ``list``, ``time``.
    """

    params: tuple[str, ...]
    variadic: str | None = None


def gofunc(*params: str, variadic: str | None = None) -> Callable[[Any], Any]:
    """Declare the Go signature of a template function (argument checks and conversions)."""

    def mark(fn: Any) -> Any:
        fn.__go_signature__ = Signature(tuple(params), variadic)
        return fn

    return mark


_SIGNATURES: weakref.WeakKeyDictionary[Any, Signature] = weakref.WeakKeyDictionary()


def signature_of(fn: Callable[..., Any]) -> Signature:
    """The declared Go signature of fn, or one inferred from its Python parameters (all any).

    Bound methods are looked up through their function, so per-object method objects
    created on every render do not pile up in the cache.
    """
    target = getattr(fn, "__func__", fn)
    declared = getattr(target, "__go_signature__", None)
    if isinstance(declared, Signature):
        return declared
    bound = target is not fn
    try:
        cached = _SIGNATURES.get(target)
    except TypeError:
        cached = None
    if cached is not None:
        return cached
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        result = Signature((), "any")
    else:
        fixed = 0
        variadic = None
        for p in sig.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
                fixed += 1
            elif p.kind is p.VAR_POSITIONAL:
                variadic = "any"
        if bound and fixed:
            fixed -= 1
        result = Signature(("any",) * fixed, variadic)
    with contextlib.suppress(TypeError):
        _SIGNATURES[target] = result
    return result


# ---------------------------------------------------------------------------------------
# Struct exposure: the sandbox boundary for objects that are not dicts.

_EXPOSED: dict[type, frozenset[str]] = {}


def exposed_members(cls: type) -> frozenset[str]:
    """Names a template may read on instances of cls (fields and methods).

    A class lists them in ``__template_fields__``; otherwise dataclass and msgspec struct
    fields whose names start with an upper-case letter (Go's exported fields) are exposed.
    Names starting with ``_`` are never exposed.
    """
    cached = _EXPOSED.get(cls)
    if cached is not None:
        return cached
    declared = getattr(cls, "__template_fields__", None)
    names: set[str] = set()
    if declared is not None:
        names.update(str(n) for n in declared)
    elif is_dataclass(cls):
        names.update(f.name for f in fields(cls) if f.name[:1].isupper())
    else:
        struct_fields = getattr(cls, "__struct_fields__", None)
        if isinstance(struct_fields, tuple):
            names.update(n for n in struct_fields if isinstance(n, str) and n[:1].isupper())
    result = frozenset(n for n in names if n and not n.startswith("_"))
    _EXPOSED[cls] = result
    return result


_METHODS: dict[tuple[type, str], bool] = {}


def is_method(obj: object, name: str) -> bool:
    """Whether an exposed member is a method (called by the template) rather than a field
    (looked up once per class and name: ``getattr_static`` is slow)."""
    key = (type(obj), name)
    found = _METHODS.get(key)
    if found is None:
        attr = inspect.getattr_static(key[0], name, None)
        found = _METHODS[key] = inspect.isfunction(attr) or isinstance(
            attr, staticmethod | classmethod)
    return found


def is_struct(value: object) -> bool:
    """Whether value is an opaque struct (not one of the basic Go kinds)."""
    return not isinstance(value, _BASIC) and value is not None and not callable(value)


# ---------------------------------------------------------------------------------------
# Kinds, names and truth.

def go_type_name(value: object) -> str:
    """A Go-like type name for error messages."""
    if value is None:
        return "interface {}"
    if value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Month):
        return "time.Month"
    if isinstance(value, Weekday):
        return "time.Weekday"
    if isinstance(value, Int64):
        return "int64"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return TYPED_STRINGS.get(type(value), "string")
    if isinstance(value, list | tuple):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, datetime):
        return "time.Time"
    if callable(value):
        return "func"
    return type(value).__name__


def is_true(value: object) -> bool:
    """Go template truth: false for zero values, nil, missing and empty containers."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True
