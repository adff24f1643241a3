"""Subscriber command handlers against the in-memory store: what they stage, claim, seal and
erase, and their conflicts."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from events.crypto import is_encrypted
from events.store import ConcurrencyError
from events.subscribers import (
    OptinRequested,
    RemovedFromLists,
    SubscribedToLists,
    SubscriberCreated,
    SubscriberDeleted,
    SubscriberStatusChanged,
    SubscriberUpdated,
    SubscriptionStatusChanged,
)
from kernel.errors import Conflict, NotFound
from services.command_api.imports.params import ImportOptions
from services.command_api.imports.parser import Row
from services.command_api.imports.writer import ImportBatch, write_batch
from services.command_api.lists import handlers as list_handlers
from services.command_api.lists.commands import ListFields
from services.command_api.public import handlers as handlers_public
from services.command_api.store import EMAIL_INDEX
from services.command_api.subscribers import handlers, handlers_bulk
from services.command_api.subscribers.fields import SubscriberFields
from services.command_api.subscribers.index import EMAIL_EXISTS, email_hash
from services.command_api.subscribers.sealing import unseal
from tests.fake_store import InMemoryEventStore, race, run

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2024, 1, 2, tzinfo=UTC)
UUID = "0b8e6f4e-8a43-4a52-9a3c-6f1d2e3c4b5a"


async def a_list(store: InMemoryEventStore, uuid: str, *, optin: str = "single") -> int:
    new = list_handlers.NewList(fields=ListFields(name="News", type="public", optin=optin),
                                uuid=uuid, at=T0)
    return int((await run(store, partial(list_handlers.create_list, new)))["list_id"])


def new_subscriber(email: str = "ann@example.com", **fields: Any) -> handlers.NewSubscriber:
    return handlers.new_subscriber(SubscriberFields(email=email, **fields), UUID, T0)


async def create(store: InMemoryEventStore, email: str = "ann@example.com", **fields: Any
                 ) -> int:
    result = await run(store, partial(handlers.create_subscriber,
                                      new_subscriber(email, **fields)))
    return int(result["subscriber_id"])


def opened(store: InMemoryEventStore, subscriber_id: int, field: str, token: str) -> Any:
    key = store.keys[subscriber_id]
    return unseal(key, subscriber_id, field, token)


async def test_create_takes_an_id_claims_the_email_and_seals_with_a_new_key() -> None:
    store = InMemoryEventStore()
    list_id = await a_list(store, "11111111-1111-4111-8111-111111111111")
    first = await create(store, "Ann@Example.com", name="Ann", attribs={"city": "Oslo"},
                         lists=(list_id, 99))
    second = await create(store, "bob@example.com")
    assert (first, second) == (1, 2)
    assert await store.owner(EMAIL_INDEX, email_hash("ann@example.com")) == 1
    created, subscribed = store.events("subscriber-1")
    assert isinstance(created, SubscriberCreated) and created.uuid == UUID
    assert all(is_encrypted(v) for v in (created.email, created.name, created.attribs))
    assert opened(store, 1, "email", created.email) == "ann@example.com"
    assert opened(store, 1, "name", created.name) == "Ann"
    assert opened(store, 1, "attribs", created.attribs) == {"city": "Oslo"}
    assert subscribed == SubscribedToLists(subscriber_id=1, list_ids=[list_id],
                                           status="unconfirmed", at=T0)  # list 99 ignored


async def test_a_taken_email_is_refused_and_nothing_is_staged() -> None:
    store = InMemoryEventStore()
    await create(store, "ann@example.com")
    with pytest.raises(Conflict) as refused:
        await handlers.create_subscriber(new_subscriber("ANN@example.com"), store)
    assert refused.value.message == EMAIL_EXISTS and refused.value.status_code == 409
    assert store.staged == []
    assert "subscriber-2" not in store.streams
    assert await store.owner(EMAIL_INDEX, email_hash("ann@example.com")) == 1


async def test_put_replaces_the_profile_and_subscriptions() -> None:
    store = InMemoryEventStore()
    news = await a_list(store, "11111111-1111-4111-8111-111111111111")
    other = await a_list(store, "22222222-2222-4222-8222-222222222222")
    sid = await create(store, lists=(news,), attribs={"a": 1})
    update = handlers.subscriber_update(
        sid, SubscriberFields(email="ann@new.example", lists=(other,)), partial=False, at=T1)
    assert await run(store, partial(handlers.update_subscriber, update)) == {
        "subscriber_id": sid}
    updated, removed, added = store.events(f"subscriber-{sid}")[-3:]
    assert isinstance(updated, SubscriberUpdated)
    assert opened(store, sid, "email", updated.email) == "ann@new.example"
    assert opened(store, sid, "attribs", updated.attribs) == {}  # not sent: cleared
    assert isinstance(removed, RemovedFromLists) and removed.list_ids == [news]
    assert isinstance(added, SubscribedToLists) and added.list_ids == [other]
    assert await store.owner(EMAIL_INDEX, email_hash("ann@new.example")) == sid
    assert await store.owner(EMAIL_INDEX, email_hash("ann@example.com")) is None


async def test_patch_changes_only_what_was_sent_and_merges_attribs() -> None:
    store = InMemoryEventStore()
    news = await a_list(store, "11111111-1111-4111-8111-111111111111")
    sid = await create(store, name="Ann", lists=(news,), attribs={"a": 1, "b": 2})
    update = handlers.subscriber_update(
        sid, SubscriberFields(attribs={"b": 3}, attribs_sent=True), partial=True, at=T1)
    await run(store, partial(handlers.update_subscriber, update))
    [updated] = store.events(f"subscriber-{sid}")[2:]
    assert isinstance(updated, SubscriberUpdated)
    assert opened(store, sid, "name", updated.name) == "Ann"
    assert opened(store, sid, "attribs", updated.attribs) == {"a": 1, "b": 3}
    assert updated.status == "enabled"


async def test_updating_a_subscriber_that_does_not_exist_is_404() -> None:
    store = InMemoryEventStore()
    update = handlers.subscriber_update(7, SubscriberFields(name="X"), partial=True, at=T1)
    with pytest.raises(NotFound):
        await handlers.update_subscriber(update, store)


async def test_two_commands_decided_on_the_same_version_conflict() -> None:
    """Both load version 2; the first to commit wins, the second's append is refused (the
    executor then runs it again on the new version)."""
    store = InMemoryEventStore()
    sid = await create(store, lists=(await a_list(store, "11111111-1111-4111-8111-111111111111"),))
    rename = handlers.subscriber_update(sid, SubscriberFields(name="First"), partial=True, at=T1)
    with pytest.raises(ConcurrencyError):
        await race(store, partial(handlers.update_subscriber, rename),
                   partial(handlers_bulk.blocklist_subscribers, [sid], T1))
    assert [type(e) for e in store.events(f"subscriber-{sid}")] == [
        SubscriberCreated, SubscribedToLists, SubscriberUpdated]


async def test_bulk_blocklist_skips_unknown_and_deleted_ids() -> None:
    store = InMemoryEventStore()
    news = await a_list(store, "11111111-1111-4111-8111-111111111111")
    ann, bob = await create(store, "ann@example.com", lists=(news,)), await create(
        store, "bob@example.com")
    await run(store, partial(handlers_bulk.delete_subscribers, [bob], T1))
    result = await run(store, partial(handlers_bulk.blocklist_subscribers, [404, ann, bob, ann],
                                      T1))
    assert result == {"subscriber_ids": [ann]}
    assert store.events(f"subscriber-{ann}")[-2:] == [
        SubscriberStatusChanged(subscriber_id=ann, status="blocklisted",
                                previous_status="enabled", at=T1),
        SubscriptionStatusChanged(subscriber_id=ann, list_ids=[news], status="unsubscribed",
                                  previous_status="unconfirmed", at=T1)]


async def test_delete_erases_the_key_and_releases_the_email() -> None:
    store = InMemoryEventStore()
    ann, bob = await create(store, "ann@example.com"), await create(store, "bob@example.com")
    result = await run(store, partial(handlers_bulk.delete_subscribers, [ann, 404], T1))
    assert result == {"subscriber_ids": [ann]}
    assert store.events(f"subscriber-{ann}")[-1] == SubscriberDeleted(subscriber_id=ann, at=T1)
    assert await store.data_key(ann) is None and ann in store.erased
    assert await store.owner(EMAIL_INDEX, email_hash("ann@example.com")) is None
    assert await store.data_key(bob) is not None  # the others keep theirs
    assert await store.owner(EMAIL_INDEX, email_hash("bob@example.com")) == bob
    assert await create(store, "ann@example.com") == 3  # the address may sign up again


async def test_public_sign_up_of_a_known_email_subscribes_it_again() -> None:
    store = InMemoryEventStore()
    single_uuid = "11111111-1111-4111-8111-111111111111"
    double_uuid = "22222222-2222-4222-8222-222222222222"
    single = await a_list(store, single_uuid)
    double = await a_list(store, double_uuid, optin="double")
    sid = await create(store, "ann@example.com", name="Ann", lists=(single,),
                       preconfirm=True)
    signup = handlers_public.SignUp("ann@example.com", "Someone Else",
                                    (double_uuid, single_uuid))
    result = await run(store, partial(handlers_public.sign_up_subscriber, signup,
                                      "ffffffff-ffff-4fff-8fff-ffffffffffff", T1))
    assert result == {"subscriber_id": sid, "has_optin": True}
    events = store.events(f"subscriber-{sid}")
    assert not any(isinstance(e, SubscriberCreated | SubscriberUpdated) for e in events[2:])
    assert events[2:] == [
        SubscribedToLists(subscriber_id=sid, list_ids=[double], status="unconfirmed", at=T1),
        OptinRequested(subscriber_id=sid, list_ids=[double], at=T1)]  # confirmed one stays
    assert "subscriber-2" not in store.streams


async def test_public_sign_up_of_a_new_email_creates_the_subscriber() -> None:
    store = InMemoryEventStore()
    list_uuid = "11111111-1111-4111-8111-111111111111"
    list_id = await a_list(store, list_uuid)
    signup = handlers_public.SignUp("new@example.com", "new", (list_uuid,))
    result = await run(store, partial(handlers_public.sign_up_subscriber, signup, UUID, T1))
    assert result == {"subscriber_id": 1, "has_optin": False}
    created, subscribed = store.events("subscriber-1")
    assert isinstance(created, SubscriberCreated) and created.uuid == UUID
    assert subscribed == SubscribedToLists(subscriber_id=1, list_ids=[list_id],
                                           status="unconfirmed", at=T1)
    assert await store.owner(EMAIL_INDEX, email_hash("new@example.com")) == 1


async def test_an_import_batch_claims_new_emails_at_once_and_updates_known_ones() -> None:
    store = InMemoryEventStore()
    news = await a_list(store, "11111111-1111-4111-8111-111111111111")
    known = await create(store, "ann@example.com", name="Ann")
    options = ImportOptions(name="f.csv", mode="subscribe", subscription_status="confirmed",
                            overwrite_userinfo=True, overwrite_subscription_status=False,
                            delim=",", list_ids=(news,))
    rows = [Row(line, email, email_hash(email), name, None) for line, email, name in (
        (1, "new@example.com", "New"), (2, "ann@example.com", "Ann B"),
        (3, "new@example.com", "New Again"))]
    plan = await write_batch(ImportBatch(rows, options, T1), store)
    assert (plan.imported, plan.skipped) == (3, [])
    store.commit()
    new = await store.owner(EMAIL_INDEX, email_hash("new@example.com"))
    assert new == known + 1 and new in store.keys
    created = store.events(f"subscriber-{new}")[0]
    assert isinstance(created, SubscriberCreated)
    assert opened(store, new, "name", created.name) == "New"
    renamed = store.events(f"subscriber-{new}")[-1]  # the repeated row, applied after
    assert isinstance(renamed, SubscriberUpdated)
    assert opened(store, new, "name", renamed.name) == "New Again"
    updated, subscribed = store.events(f"subscriber-{known}")[1:]
    assert isinstance(updated, SubscriberUpdated)
    assert opened(store, known, "name", updated.name) == "Ann B"
    assert subscribed == SubscribedToLists(subscriber_id=known, list_ids=[news],
                                           status="confirmed", at=T1)
