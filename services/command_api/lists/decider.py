"""The mailing-list decider: pure ``decide`` and ``evolve`` over one ``list-<id>`` stream."""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event
from events.lists import ListCreated, ListDeleted, ListOptin, ListStatus, ListType, ListUpdated
from kernel.errors import Conflict, InvalidInput, NotFound
from services.command_api.decider import Decider
from services.command_api.lists.commands import (
    INVALID_NAME,
    NAME_MAX_BYTES,
    CreateList,
    DeleteList,
    ListCommand,
    UpdateList,
)

LIST_NOT_FOUND = "List not found"


class Absent(msgspec.Struct, frozen=True):
    """No such list has ever been created."""


class Active(msgspec.Struct, frozen=True, kw_only=True):
    """A live list with its current editable fields."""

    list_id: int
    uuid: str = ""
    name: str
    list_type: ListType
    optin: ListOptin
    status: ListStatus
    tags: tuple[str, ...]
    description: str
    updated_at: datetime


class Deleted(msgspec.Struct, frozen=True):
    """The list was deleted; its id is never reused."""


ListState = Absent | Active | Deleted


def stream_id(list_id: int) -> str:
    return f"list-{list_id}"


def valid_name(name: str) -> bool:
    return 1 <= len(name.encode()) <= NAME_MAX_BYTES


def decide(state: ListState, command: ListCommand) -> list[Event]:
    """The events a command produces on a list in ``state``, or a ``DomainError``."""
    if isinstance(command, CreateList):
        return _create(state, command)
    if isinstance(command, UpdateList):
        return _update(state, command)
    return _delete(state, command)


def _create(state: ListState, c: CreateList) -> list[Event]:
    if not isinstance(state, Absent):
        raise Conflict(f"list {c.list_id} already exists")
    if not valid_name(c.name):
        raise InvalidInput(INVALID_NAME)
    return [ListCreated(list_id=c.list_id, uuid=c.uuid, name=c.name, list_type=c.list_type,
                        optin=c.optin, status=c.status, tags=list(c.tags),
                        description=c.description, at=c.at)]


def _update(state: ListState, c: UpdateList) -> list[Event]:
    if not isinstance(state, Active):
        raise NotFound(LIST_NOT_FOUND)
    if not valid_name(c.name):
        raise InvalidInput(INVALID_NAME)
    return [ListUpdated(
        list_id=state.list_id,
        name=c.name,
        list_type=c.list_type or state.list_type,
        optin=c.optin or state.optin,
        status=c.status or state.status,
        tags=list(c.tags),
        description=c.description or state.description,
        at=c.at,
    )]


def _delete(state: ListState, c: DeleteList) -> list[Event]:
    if not isinstance(state, Active):
        raise NotFound(LIST_NOT_FOUND)
    return [ListDeleted(list_id=state.list_id, at=c.at)]


def evolve(state: ListState, event: Event) -> ListState:
    """The list's state after ``event``."""
    if isinstance(event, ListCreated | ListUpdated):
        uuid = event.uuid if isinstance(event, ListCreated) else getattr(state, "uuid", "")
        return Active(list_id=event.list_id, uuid=uuid, name=event.name,
                      list_type=event.list_type, optin=event.optin, status=event.status,
                      tags=tuple(event.tags), description=event.description,
                      updated_at=event.at)
    if isinstance(event, ListDeleted):
        return Deleted()
    return state


list_decider: Decider[ListState, ListCommand] = Decider(
    initial=Absent(), decide=decide, evolve=evolve
)
