"""Events of the ``list`` category (mailing lists); stream ``list-<id>``.

Each event carries the list's whole new value of the fields it touches, so a projection never
needs the previous state to apply it. ``at`` is when the command was accepted (the list's
``created_at`` / ``updated_at``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.base import Event

ListType = Literal["public", "private", "temporary"]
ListOptin = Literal["single", "double"]
ListStatus = Literal["active", "archived"]

LIST_TYPES: tuple[ListType, ...] = ("public", "private", "temporary")
LIST_OPTINS: tuple[ListOptin, ...] = ("single", "double")
LIST_STATUSES: tuple[ListStatus, ...] = ("active", "archived")


class ListCreated(Event, tag="list.created", kw_only=True, frozen=True):
    """A list was created with its integer id (from ``eventlog.list_id_seq``) and uuid."""

    CATEGORY = "list"
    list_id: int
    uuid: str
    name: str
    list_type: ListType
    optin: ListOptin
    status: ListStatus = "active"
    tags: list[str] = []
    description: str = ""
    at: datetime


class ListUpdated(Event, tag="list.updated", kw_only=True, frozen=True):
    """The list's editable fields after the update (the whole new value of each)."""

    CATEGORY = "list"
    list_id: int
    name: str
    list_type: ListType
    optin: ListOptin
    status: ListStatus
    tags: list[str] = []
    description: str = ""
    at: datetime


class ListDeleted(Event, tag="list.deleted", kw_only=True, frozen=True):
    """The list is gone (its subscriptions go with it; campaigns keep the list's name)."""

    CATEGORY = "list"
    list_id: int
    at: datetime


ListEvent = ListCreated | ListUpdated | ListDeleted
