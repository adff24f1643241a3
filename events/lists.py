"""Events of the ``list`` category (mailing lists)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.base import Event

ListType = Literal["public", "private", "temporary"]
ListOptin = Literal["single", "double"]
ListStatus = Literal["active", "archived"]


class ListCreated(Event, tag="list.created", kw_only=True):
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


class ListUpdated(Event, tag="list.updated", kw_only=True):
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


class ListDeleted(Event, tag="list.deleted", kw_only=True):
    CATEGORY = "list"
    list_id: int
    at: datetime


ListEvent = ListCreated | ListUpdated | ListDeleted
