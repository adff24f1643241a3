"""A subscriber's fields as a client sends them, validated and normalised as listmonk does.

- E-mail: trimmed and lower-cased, then it must be a bare RFC 5322 address (what Go's
  ``mail.ParseAddress`` accepts and gives back unchanged: ``local@domain``, both dot-atoms; no
  display name, comment or quoting), at most 1000 bytes on create. Else 400 ``Invalid email.``
- Name: trimmed; on create an empty name is made from the e-mail's local part (dots become
  spaces, each word capitalised: ``john.doe@x`` -> ``John Doe``). On update a name longer than
  2000 bytes is 400 ``Invalid name.`` and an empty one keeps the current name.
- Status: ``enabled`` (default on create) | ``disabled`` | ``blocklisted``.
- Every text passes postlog's validation boundary (``events/validation.py``): a name holds no
  control character or line break and at most 2000 bytes (create and update alike); attribs
  hold no NUL and nest at most 64 levels. Such input is a 400 naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from events.subscribers import (
    SUBSCRIBER_STATUSES,
    SUBSCRIPTION_STATUSES,
    SubscriberStatus,
    SubscriptionStatus,
)
from events.validation import check_json, check_line
from kernel.errors import InvalidInput
from services.http.binding import (
    bind_object,
    bool_field,
    int_list_field,
    object_field,
    string_field,
)

INVALID_EMAIL = "Invalid email."
INVALID_NAME = "Invalid name."
EMAIL_MAX_BYTES = 1000
NAME_MAX_BYTES = 2000

# RFC 5322 atext as Go's net/mail reads it: printable ASCII but the specials, or any non-ASCII
# character but the C1 controls, the line and paragraph separators and lone surrogates.
_ATEXT = (r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u00a0-\u2027\u202a-\ud7ff\ue000-\U0010ffff]")
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_ADDRESS = re.compile(rf"{_DOT_ATOM}@{_DOT_ATOM}")
_WORD = re.compile(r"[^\W_]+(?:['_][^\W_]+)*")

_FIELDS = ("email", "name", "status", "attribs", "lists", "preconfirm_subscriptions")


def sanitize_email(raw: str) -> str:
    """The normalised e-mail (trimmed, lower-cased), or 400 ``Invalid email.``"""
    email = raw.strip().lower()
    if not _ADDRESS.fullmatch(email):
        raise InvalidInput(INVALID_EMAIL)
    return email


def valid_name(raw: str) -> str:
    """A sent name, trimmed, if it is one line of at most 2000 bytes; else 400."""
    return check_line(raw, "name", NAME_MAX_BYTES, INVALID_NAME).strip()


def name_from_email(email: str) -> str:
    """listmonk's default name: the local part, dots as spaces, each word capitalised."""
    local = email.split("@", 1)[0].lower()
    parts = local.replace(".", " ").split()
    return " ".join(_WORD.sub(lambda m: m[0][0].title() + m[0][1:], part) for part in parts)


E = TypeVar("E", bound=str)


def enum_value(value: str, allowed: tuple[E, ...], what: str) -> E:
    for option in allowed:
        if value == option:
            return option
    raise InvalidInput(f"Invalid {what}: {value!r} (one of {', '.join(allowed)})")


def subscriber_status(value: str) -> SubscriberStatus:
    return enum_value(value, SUBSCRIBER_STATUSES, "subscriber status")


def subscription_status(value: str) -> SubscriptionStatus:
    return enum_value(value, SUBSCRIPTION_STATUSES, "subscription status")


@dataclass(frozen=True)
class SubscriberFields:
    """The fields of a create/update body. ``None`` means absent (or ``null``).

    ``attribs_sent`` tells an ``"attribs": null`` (clears them on PATCH) from no key at all.
    """

    email: str | None = None
    name: str | None = None
    status: str | None = None
    attribs: dict[str, Any] | None = None
    attribs_sent: bool = False
    lists: tuple[int, ...] | None = None
    preconfirm: bool = False

    def create_email(self) -> str:
        email = self.email or ""
        if len(email.encode()) > EMAIL_MAX_BYTES:
            raise InvalidInput(INVALID_EMAIL)
        return sanitize_email(email)

    def create_name(self, email: str) -> str:
        return valid_name(self.name or "") or name_from_email(email)

    def update_name(self) -> str | None:
        """The new name, or None to keep the current one (sent empty or not at all)."""
        return valid_name(self.name or "") or None

    def status_or(self, default: SubscriberStatus | None) -> SubscriberStatus | None:
        return subscriber_status(self.status) if self.status else default


def fields_from_json(body: bytes) -> SubscriberFields:
    data = bind_object(body, _FIELDS)
    return SubscriberFields(
        email=string_field(data, "email"),
        name=string_field(data, "name"),
        status=string_field(data, "status"),
        attribs=_attribs(object_field(data, "attribs")),
        attribs_sent="attribs" in data,
        lists=int_list_field(data, "lists"),
        preconfirm=bool_field(data, "preconfirm_subscriptions"),
    )


def _attribs(value: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else check_json(value, "attribs")


_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def fields_from_form(form: Mapping[str, list[str]]) -> SubscriberFields:
    """A form body: ``email``, ``name``, ``status``, repeated ``lists``,
    ``preconfirm_subscriptions`` (names case-insensitive, first value counts)."""
    lowered: dict[str, list[str]] = {}
    for key, values in form.items():
        lowered.setdefault(key.lower(), []).extend(values)

    def first(name: str) -> str | None:
        values = lowered.get(name)
        return values[0] if values else None

    lists: tuple[int, ...] | None = None
    if "lists" in lowered:
        try:
            lists = tuple(int(v) for v in lowered["lists"] if v.strip())
        except ValueError:
            raise InvalidInput("Invalid lists") from None
    return SubscriberFields(email=first("email"), name=first("name"), status=first("status"),
                            lists=lists,
                            preconfirm=(first("preconfirm_subscriptions") or "") in _TRUE)
