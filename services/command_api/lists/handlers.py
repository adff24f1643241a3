"""Command handlers of mailing lists: create, update, delete (one or many).

Each takes the command's input and an ``EventStore``, decides with the pure ``list_decider``
and stages the events; the route binds the body, calls one handler and answers
(``services/command_api/store.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.command_api.lists.commands import DeleteList, ListFields, UpdateList
from services.command_api.lists.decider import list_decider, stream_id
from services.command_api.store import EventStore, decide_on, decide_on_each

LIST_ID_SEQUENCE = "eventlog.list_id_seq"


@dataclass(frozen=True)
class NewList:
    """A list to create, as the client sent it; the id comes from the sequence."""

    fields: ListFields
    uuid: str
    at: datetime


async def create_list(new: NewList, store: EventStore) -> dict[str, Any]:
    """``{"list_id": id}`` of the new list."""
    new.fields.validate()  # before an id is taken from the sequence
    list_id = await store.next_id(LIST_ID_SEQUENCE)
    await decide_on(store, stream_id(list_id), list_decider,
                    new.fields.to_create(list_id, new.uuid, new.at))
    return {"list_id": list_id}


async def update_list(command: UpdateList, store: EventStore) -> dict[str, Any]:
    await decide_on(store, stream_id(command.list_id), list_decider, command)
    return {"list_id": command.list_id}


async def delete_lists(list_ids: Iterable[int], at: datetime, store: EventStore
                       ) -> dict[str, Any]:
    """Delete each list; like listmonk, ids of lists that do not exist (or no longer exist)
    are skipped. ``deleted`` names the streams changed."""
    deleted = await decide_on_each(store, list_ids, stream_id, list_decider,
                                   lambda list_id: DeleteList(list_id=list_id, at=at))
    return {"deleted": deleted}
