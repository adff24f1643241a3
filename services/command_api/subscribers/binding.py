"""Reads request bodies the way listmonk's Go handlers bind them (echo + encoding/json).

Keys match struct fields case-insensitively (an exact match wins), unknown keys are ignored,
``null`` leaves a field at its zero value, and a value of the wrong JSON type is a 400 naming
the expected Go type and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from services.command_api.domain import InvalidInput

_GO_KINDS = {str: "string", bool: "bool", int: "number", float: "number", list: "array",
             dict: "object"}


def go_kind(value: Any) -> str:
    """The JSON kind of a decoded value, as Go's type errors name it."""
    return _GO_KINDS.get(type(value), "value")


def type_error(expected: str, value: Any, field: str) -> InvalidInput:
    return InvalidInput(
        f"Unmarshal type error: expected={expected}, got={go_kind(value)}, field={field}")


def bind_object(body: bytes, fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of ``body`` restricted to ``fields`` (lower-case names).

    A key present with ``null`` is kept (as None): some handlers tell "sent null" from
    "absent". An empty body binds nothing.
    """
    if not body.strip():
        return {}
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"Syntax error: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput(f"Unmarshal type error: expected=object, got={go_kind(data)}, field=")
    out: dict[str, Any] = {}
    for key, value in data.items():
        lowered = key.lower()
        if lowered in fields and (key == lowered or lowered not in data):
            out[lowered] = value
    return out


def string_field(data: Mapping[str, Any], field: str) -> str | None:
    """A string field; None when absent or null."""
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise type_error("string", value, field)
    return value


def bool_field(data: Mapping[str, Any], field: str) -> bool:
    value = data.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise type_error("bool", value, field)
    return value


def int_list_field(data: Mapping[str, Any], field: str) -> tuple[int, ...] | None:
    """A ``[]int`` field; None when absent or null (a null item reads as 0, like Go)."""
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, list):
        raise type_error("[]int", value, field)
    out: list[int] = []
    for item in value:
        if item is None:
            out.append(0)
        elif isinstance(item, int) and not isinstance(item, bool) and -2**63 <= item < 2**63:
            out.append(item)
        else:
            raise type_error("int", item, field)
    return tuple(out)


def object_field(data: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    """A JSON object field; None when absent or null."""
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise type_error("models.JSON", value, field)
    return value
