"""Reads request bodies the way listmonk's Go handlers bind them (echo + encoding/json).

echo's binder: an empty body binds nothing, JSON and form bodies bind, any other media type
is 415. JSON keys match struct fields case-insensitively (an exact match wins), unknown keys
are ignored, ``null`` leaves a field at its zero value, and a value of the wrong JSON type is
a 400 naming the expected Go type and the field. Form fields match case-insensitively too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import msgspec
from litestar import Request

from kernel.errors import InvalidInput
from services.http.errors import APIError

FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UNSUPPORTED_MEDIA_TYPE = "Unsupported Media Type"
_GO_KINDS = {str: "string", bool: "bool", int: "number", float: "number", list: "array",
             dict: "object"}

T = TypeVar("T")
Form = Mapping[str, list[str]]


async def read_body(
    request: Request[Any, Any, Any], from_json: Callable[[bytes], T],
    from_form: Callable[[Form], T] | None, empty: T,
) -> T:
    """Bind the request body with echo's rules: ``empty`` for no body, ``from_json`` for a JSON
    body, ``from_form`` (every value of every field, as text) for a form body; any other media
    type, or a form where ``from_form`` is None, is 415."""
    body = await request.body()
    if not body:
        return empty
    media_type = request.content_type[0].lower()
    if media_type == "application/json":
        return from_json(body)
    if from_form is not None and media_type in FORM_MEDIA_TYPES:
        form = await request.form()
        return from_form({k: [str(v) for v in form.getall(k)] for k in form})
    raise APIError(415, UNSUPPORTED_MEDIA_TYPE)


def form_fields(form: Form) -> dict[str, list[str]]:
    """The values of a form by lower-cased field name (echo matches names case-insensitively;
    ``Name`` and ``name`` are one field)."""
    lowered: dict[str, list[str]] = {}
    for key, values in form.items():
        lowered.setdefault(key.lower(), []).extend(values)
    return lowered


def first_values(form: Form, fields: tuple[str, ...]) -> dict[str, str]:
    """The first value of each of ``fields`` (lower-case names) in a form, "" when absent."""
    lowered = form_fields(form)
    return {name: (lowered.get(name) or [""])[0] for name in fields}


def go_kind(value: Any) -> str:
    """The JSON kind of a decoded value, as Go's type errors name it."""
    return _GO_KINDS.get(type(value), "value")


def type_error(expected: str, value: Any, field: str) -> InvalidInput:
    return InvalidInput(
        f"Unmarshal type error: expected={expected}, got={go_kind(value)}, field={field}")


def decode_json(body: bytes | str) -> Any:
    """Any JSON text, or 400 ``Syntax error: ...``: malformed JSON, text that is not UTF-8
    (or holds a lone surrogate) and nesting too deep for the decoder are all the client's
    error, never a 500."""
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"Syntax error: {exc}") from None
    except UnicodeError:
        raise InvalidInput("Syntax error: the body is not valid UTF-8") from None
    except RecursionError:
        raise InvalidInput("Syntax error: JSON nested too deeply") from None


def decode_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object of ``body``; None for an empty body or ``null``. Bad JSON and any
    other JSON value are 400s."""
    if not body.strip():
        return None
    data = decode_json(body)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise InvalidInput(f"Unmarshal type error: expected=object, got={go_kind(data)}, field=")
    return data


def bound_items(data: Mapping[str, Any], fields: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    """``(field, value)`` for each key of ``data`` that names one of ``fields`` (lower-case
    names), in the body's order; a key differing in case is skipped when the exact one is sent."""
    for key, value in data.items():
        lowered = key.lower()
        if lowered in fields and (key == lowered or lowered not in data):
            yield lowered, value


def bind_object(body: bytes, fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of ``body`` restricted to ``fields`` (lower-case names).

    A key present with ``null`` is kept (as None): some handlers tell "sent null" from
    "absent". An empty body binds nothing.
    """
    data = decode_object(body)
    return {} if data is None else dict(bound_items(data, fields))


def string_value(value: Any, field: str) -> str | None:
    """A JSON string (None for null); any other value is a type error naming ``field``."""
    if value is not None and not isinstance(value, str):
        raise type_error("string", value, field)
    return value


def string_field(data: Mapping[str, Any], field: str) -> str | None:
    """A string field; None when absent or null."""
    return string_value(data.get(field), field)


def string_list(value: Any, expected: str, field: str) -> list[str] | None:
    """A JSON array of strings (Go type ``expected``) without its null items; None for null."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise type_error(expected, value, field)
    for item in value:
        if item is not None and not isinstance(item, str):
            raise type_error("string", item, field)
    return [item for item in value if item is not None]


def bool_field(data: Mapping[str, Any], field: str) -> bool:
    """A boolean field; false when absent or null."""
    value = data.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise type_error("bool", value, field)
    return value


def _is_go_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63


def int_field(data: Mapping[str, Any], field: str) -> int | None:
    """A Go ``int`` field (64 bits); None when absent or null."""
    value = data.get(field)
    if value is None:
        return None
    if not _is_go_int(value):
        raise type_error("int", value, field)
    return int(value)


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
        elif _is_go_int(item):
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


async def form_values(
    request: Request[Any, Any, Any], fields: tuple[str, ...], from_json: Callable[[Any], bool],
) -> dict[str, str]:
    """``fields`` like echo's ``FormValue``: from a form body, or a JSON one (values that
    ``from_json`` accepts, as text), else from the query string."""
    values: dict[str, str] = {}
    media_type = request.content_type[0].lower()
    if media_type in FORM_MEDIA_TYPES:
        form = await request.form()
        values = {k: str(form.get(k)) for k in fields if k in form}
    elif media_type == "application/json" and (raw := await request.body()).strip():
        data = decode_json(raw)
        if isinstance(data, dict):
            values = {k: str(v) for k in fields if from_json(v := data.get(k))}
    for key in fields:
        if key not in values and key in request.query_params:
            values[key] = str(request.query_params.get(key))
    return values
