"""List command handlers against the in-memory store: what they stage, and their conflicts."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest

from events.lists import ListCreated, ListDeleted, ListUpdated
from events.store import ConcurrencyError
from kernel.errors import InvalidInput
from services.command_api.lists import handlers
from services.command_api.lists.commands import ListFields
from tests.fake_store import InMemoryEventStore, race, run

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 2, tzinfo=UTC)
UUID = "6a2c9a1e-3b7b-4f2e-9d1f-2f3c4d5e6f70"


def new_list(name: str = "News", **fields: str) -> handlers.NewList:
    return handlers.NewList(fields=ListFields(name=name, **fields), uuid=UUID, at=T0)


async def test_create_takes_an_id_from_the_sequence_and_records_the_list() -> None:
    store = InMemoryEventStore()
    assert await run(store, partial(handlers.create_list, new_list(type="public"))) == {
        "list_id": 1}
    assert await run(store, partial(handlers.create_list, new_list("Other"))) == {"list_id": 2}
    [created] = store.events("list-1")
    assert created == ListCreated(list_id=1, uuid=UUID, name="News", list_type="public",
                                  optin="single", at=T0)


async def test_an_invalid_list_takes_no_id_and_stages_nothing() -> None:
    store = InMemoryEventStore()
    with pytest.raises(InvalidInput, match="Invalid name"):
        await handlers.create_list(new_list(""), store)
    assert store.sequences == {} and store.staged == []


async def test_update_decides_on_the_current_version() -> None:
    store = InMemoryEventStore()
    await run(store, partial(handlers.create_list, new_list()))
    update = ListFields(name="Renamed").to_update(1, T1)
    await run(store, partial(handlers.update_list, update))
    assert isinstance(store.events("list-1")[-1], ListUpdated)
    assert store.streams["list-1"][-1].version == 2


async def test_two_commands_decided_on_the_same_version_conflict() -> None:
    """Both load version 1; the first to commit wins, the second's append is refused (the
    executor then runs it again on the new version)."""
    store = InMemoryEventStore()
    await run(store, partial(handlers.create_list, new_list()))
    rename = ListFields(name="First").to_update(1, T1)
    with pytest.raises(ConcurrencyError):
        await race(store, partial(handlers.update_list, rename),
                   partial(handlers.delete_lists, [1], T1))
    assert [type(e) for e in store.events("list-1")] == [ListCreated, ListUpdated]


async def test_deleting_skips_lists_that_do_not_exist() -> None:
    store = InMemoryEventStore()
    await run(store, partial(handlers.create_list, new_list()))
    result = await run(store, partial(handlers.delete_lists, [7, 1, 1], T1))
    assert result == {"deleted": ["list-1"]}
    assert store.events("list-1")[-1] == ListDeleted(list_id=1, at=T1)
