"""The ``params`` form field of an import, read as listmonk's Go handler reads it.

``json.Unmarshal`` into listmonk's session options: keys match case-insensitively (an exact
match wins), unknown keys are ignored, ``null`` leaves the default, and a value of the wrong JSON
type is an error naming the field and the Go type. ``overwrite: true`` (the older API) sets both
``overwrite_userinfo`` and ``overwrite_subscription_status``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from events.imports import ImportMode
from events.subscribers import SubscriptionStatus

INVALID_PARAMS = "Invalid params: {}"
_STRUCT = "SessionOpt"
_FIELDS = {"filename": "string", "mode": "string", "subscription_status": "string",
           "overwrite": "bool", "overwrite_userinfo": "bool",
           "overwrite_subscription_status": "bool", "delim": "string", "lists": "[]int"}
_KINDS = {str: "string", bool: "bool", int: "number", float: "number", list: "array",
          dict: "object"}
_INT64 = range(-(2**63), 2**63)


class ParamsError(Exception):
    """The params are not valid JSON for the options; the message is Go's error text."""


@dataclass(frozen=True)
class ImportParams:
    """The options as sent (before the handler validates mode, status and delimiter)."""

    mode: str = ""
    subscription_status: str = ""
    overwrite_userinfo: bool = False
    overwrite_subscription_status: bool = False
    delim: str = ""
    lists: tuple[int, ...] = ()


@dataclass(frozen=True)
class ImportOptions:
    """Validated options of one import."""

    name: str
    mode: ImportMode
    subscription_status: SubscriptionStatus
    overwrite_userinfo: bool
    overwrite_subscription_status: bool
    delim: str
    list_ids: tuple[int, ...]


def _kind(value: Any) -> str:
    if isinstance(value, float):
        return f"number {value!r}"
    return _KINDS.get(type(value), "value")


def _type_error(value: Any, field: str, go_type: str) -> ParamsError:
    return ParamsError(f"json: cannot unmarshal {_kind(value)} into Go struct field"
                       f" {_STRUCT}.{field} of type {go_type}")


def _bound(data: dict[str, Any]) -> dict[str, Any]:
    """The known fields of ``data`` (case-insensitive keys; an exact match wins)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        lowered = key.lower()
        if lowered in _FIELDS and (key == lowered or lowered not in data):
            out[lowered] = value
    return out


def _checked(field: str, value: Any) -> Any:
    go_type = _FIELDS[field]
    if go_type == "string":
        if not isinstance(value, str):
            raise _type_error(value, field, go_type)
        return value
    if go_type == "bool":
        if not isinstance(value, bool):
            raise _type_error(value, field, go_type)
        return value
    if not isinstance(value, list):
        raise _type_error(value, field, go_type)
    items: list[int] = []
    for item in value:
        if item is None:
            items.append(0)
        elif isinstance(item, int) and not isinstance(item, bool) and item in _INT64:
            items.append(item)
        else:
            raise _type_error(item, field, "int")
    return tuple(items)


def parse_params(raw: str) -> ImportParams:
    """The options in ``raw``; ``ParamsError`` with Go's text when it does not decode."""
    if not raw.strip():
        raise ParamsError("unexpected end of JSON input")
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ParamsError(str(exc)) from None
    except (UnicodeError, RecursionError):
        raise ParamsError("invalid JSON") from None
    if data is None:
        return ImportParams()
    if not isinstance(data, dict):
        raise ParamsError(f"json: cannot unmarshal {_kind(data)} into Go value of type"
                          f" subimporter.{_STRUCT}")
    fields = {k: _checked(k, v) for k, v in _bound(data).items() if v is not None}
    overwrite = bool(fields.get("overwrite", False))
    return ImportParams(
        mode=fields.get("mode", ""),
        subscription_status=fields.get("subscription_status", ""),
        overwrite_userinfo=overwrite or bool(fields.get("overwrite_userinfo", False)),
        overwrite_subscription_status=overwrite or bool(
            fields.get("overwrite_subscription_status", False)),
        delim=fields.get("delim", ""),
        lists=fields.get("lists", ()),
    )
