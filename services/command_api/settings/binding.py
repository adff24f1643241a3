"""From a request body to the settings a client asked for.

``PUT /api/settings`` sends the whole object as listmonk's clients do. A top-level key that is
absent (or ``null``) keeps its current value, where listmonk would reset it to Go's zero value;
inside a key, a field that is absent (or ``null``) takes listmonk's default. Unknown keys are
ignored, as listmonk's decoder ignores them. ``PUT /api/settings/:key`` sends one key's value.
A value of the wrong JSON type is a 400 naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec

from events.settings import AppSettings, setting_keys
from kernel.errors import InvalidInput
from services.http.binding import decode_json, decode_object

INVALID_DATA = "Invalid data"
_ARRAYS = (("smtp", "smtp"), ("messengers", "messengers"),
           ("bounce.mailboxes", "bounce_mailboxes"))


def settings_body(body: bytes) -> dict[str, Any]:
    """The keys of a whole-object PUT (a JSON object; ``null`` changes nothing)."""
    data = decode_object(body) or {}
    return {key: value for key, value in data.items() if key in _KEYS}


def key_body(key: str, body: bytes) -> dict[str, Any]:
    """``{key: value}`` of a one-key PUT; an unknown key is a 400."""
    if key not in _KEYS:
        raise InvalidInput(f"{INVALID_DATA}: unknown setting {key!r}")
    return {key: decode_json(body)}


def bind(given: dict[str, Any], current: AppSettings) -> AppSettings:
    """``current`` with the keys ``given`` replaced (nulls dropped), or a 400 naming the field
    of the wrong type (``Invalid fields: smtp[0].port (expected `int`, got `str`)``)."""
    merged = msgspec.to_builtins(current)
    for key, value in given.items():
        if value is not None:
            merged[key] = _without_nulls(value)
    try:
        return msgspec.convert(merged, AppSettings)
    except msgspec.ValidationError as exc:
        raise InvalidInput(_message(str(exc))) from None


def _without_nulls(value: Any) -> Any:
    """Object members set to ``null`` removed (they take their default), at any depth."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _message(error: str) -> str:
    """msgspec's ``Expected `int`, got `str` - at `$.smtp[0].port``` in listmonk's words."""
    why, _, where = error.partition(" - at `$")
    field = where.rstrip("`").lstrip(".") or "settings"
    return f"Invalid fields: {field} ({why[:1].lower()}{why[1:]})"


def blocks_in(given: dict[str, Any]) -> int:
    """How many array items (SMTP servers, messengers, mailboxes) ``given`` holds: the route
    makes as many fresh uuids, for those that arrive without one."""
    return sum(len(v) for key, _ in _ARRAYS if isinstance(v := given.get(key), list))


def assign_uuids(settings: AppSettings, fresh: list[str]) -> AppSettings:
    """Each SMTP server, messenger and mailbox without a uuid (or with one already used by an
    earlier item of its list) gets the next of ``fresh``, so secrets can be matched by uuid."""
    supply: Iterator[str] = iter(fresh)
    changes: dict[str, Any] = {}
    for _, attr in _ARRAYS:
        seen: set[str] = set()
        items = []
        for item in getattr(settings, attr):
            if not item.uuid or item.uuid in seen:
                item = msgspec.structs.replace(item, uuid=next(supply))
            seen.add(item.uuid)
            items.append(item)
        changes[attr] = items
    return msgspec.structs.replace(settings, **changes)


_KEYS = frozenset(setting_keys())
