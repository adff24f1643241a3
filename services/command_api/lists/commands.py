"""Commands on a mailing list. Ids, uuid and time arrive on the command (the route takes them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from events.lists import (
    LIST_OPTINS,
    LIST_STATUSES,
    LIST_TYPES,
    ListOptin,
    ListStatus,
    ListType,
)
from events.validation import check_line, check_lines, check_text
from kernel.errors import InvalidInput
from services.http.binding import (
    bind_object,
    first_values,
    form_fields,
    string_field,
    string_list,
)

NAME_MAX_BYTES = 2000  # listmonk's stdInputMaxLen, counted in bytes like Go's len()
INVALID_NAME = "Invalid name"


class CreateList(msgspec.Struct, frozen=True, kw_only=True):
    """Create a list with a fresh id (``eventlog.list_id_seq``) and uuid."""

    list_id: int
    uuid: str
    name: str
    list_type: ListType = "private"
    optin: ListOptin = "single"
    status: ListStatus = "active"
    tags: tuple[str, ...] = ()
    description: str = ""
    at: datetime


class UpdateList(msgspec.Struct, frozen=True, kw_only=True):
    """Change a list the way listmonk's PUT does.

    ``None`` keeps the current value of type, optin, status and description (listmonk keeps a
    field sent empty); ``name`` and ``tags`` are always replaced.
    """

    list_id: int
    name: str
    list_type: ListType | None = None
    optin: ListOptin | None = None
    status: ListStatus | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    at: datetime


class DeleteList(msgspec.Struct, frozen=True, kw_only=True):
    list_id: int
    at: datetime


ListCommand = CreateList | UpdateList | DeleteList


# --- From a request body to a command ------------------------------------------------------

TAG_MAX_CHARS = 100  # listmonk stores tags as VARCHAR(100)[]
_SPACES = re.compile(r"\s+")
_STRING_FIELDS = ("name", "type", "optin", "status", "description")


@dataclass(frozen=True)
class ListFields:
    """The editable fields of a list as a client sent them ("" when absent, like Go's zero)."""

    name: str = ""
    type: str = ""
    optin: str = ""
    status: str = ""
    tags: tuple[str, ...] = ()
    description: str = ""

    def to_create(self, list_id: int, list_uuid: str, at: datetime) -> CreateList:
        """A ``CreateList`` with listmonk's defaults (private, single opt-in, active)."""
        self.validate()
        return CreateList(list_id=list_id, uuid=list_uuid, name=self.name,
                          list_type=_enum(self.type or "private", LIST_TYPES, "list type"),
                          optin=_enum(self.optin or "single", LIST_OPTINS, "list opt-in"),
                          status=_enum(self.status or "active", LIST_STATUSES, "list status"),
                          tags=self.tags, description=self.description, at=at)

    def to_update(self, list_id: int, at: datetime) -> UpdateList:
        """An ``UpdateList``; empty type/optin/status/description keep the current value."""
        self.validate()
        return UpdateList(
            list_id=list_id, name=self.name,
            list_type=_enum(self.type, LIST_TYPES, "list type") if self.type else None,
            optin=_enum(self.optin, LIST_OPTINS, "list opt-in") if self.optin else None,
            status=_enum(self.status, LIST_STATUSES, "list status") if self.status else None,
            tags=self.tags, description=self.description or None, at=at)

    def validate(self) -> None:
        """listmonk's checks, in its order: the name first, then the enums (in ``to_*``)."""
        if not 1 <= len(self.name.encode()) <= NAME_MAX_BYTES:
            raise InvalidInput(INVALID_NAME)
        check_line(self.name, "name")
        if any(len(tag) > TAG_MAX_CHARS for tag in self.tags):
            raise InvalidInput(f"Invalid tags: a tag can have at most {TAG_MAX_CHARS} characters")
        check_lines(self.tags, "tags")
        check_text(self.description, "description")


E = TypeVar("E", bound=str)


def _enum(value: str, allowed: tuple[E, ...], what: str) -> E:
    for option in allowed:
        if value == option:
            return option
    raise InvalidInput(f"Invalid {what}: {value!r} (one of {', '.join(allowed)})")


def normalize_tags(tags: list[str]) -> tuple[str, ...]:
    """listmonk's tag clean-up: trim, turn runs of spaces into ``-``, drop empty tags."""
    out = (_SPACES.sub("-", tag.strip()) for tag in tags)
    return tuple(tag for tag in out if tag)


def fields_from_json(body: bytes) -> ListFields:
    """Parse a JSON body the way Go's decoder binds it (unknown keys ignored, keys matched
    case-insensitively, ``null`` leaves a field empty); type errors are 400s."""
    values = bind_object(body, (*_STRING_FIELDS, "tags"))
    strings = {name: string_field(values, name) or "" for name in _STRING_FIELDS}
    return ListFields(**strings, tags=_json_tags(values.get("tags")))


def _json_tags(value: Any) -> tuple[str, ...]:
    return normalize_tags(string_list(value, "[]string", "tags") or [])


def fields_from_form(form: Mapping[str, list[str]]) -> ListFields:
    """Bind form fields (``--form name=...``) like echo: names match case-insensitively, the
    first value of a field counts, ``tags`` may repeat."""
    return ListFields(**first_values(form, _STRING_FIELDS),
                      tags=normalize_tags(form_fields(form).get("tags", [])))
