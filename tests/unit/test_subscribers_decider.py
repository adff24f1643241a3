"""The subscriber decider, given/when/then: events in, command, events (or a refusal) out.

Personal fields are opaque tokens to the decider; plain strings stand in for them here.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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
from services.command_api.subscribers.commands import (
    AddSubscriptions,
    BlocklistSubscriber,
    CreateSubscriber,
    DeleteSubscriber,
    RemoveSubscriptions,
    RequestOptin,
    SubscriberCommand,
    UnsubscribeLists,
    UpdateSubscriber,
)
from services.command_api.subscribers.decider import (
    Active,
    Deleted,
    subscriber_decider,
    subscription_changes,
)
from tests.unit.given_when_then import when_deciding

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
UUID = "1bb246ab-7417-4cef-bddc-8fc8fc941d3a"

CREATED = SubscriberCreated(subscriber_id=7, uuid=UUID, email="tok-e", name="tok-n",
                            attribs="tok-a", status="enabled", at=T0)


def subscribed(list_ids: list[int], status: str = "unconfirmed") -> SubscribedToLists:
    return SubscribedToLists(subscriber_id=7, list_ids=list_ids, status=status,  # type: ignore[arg-type]
                             at=T0)


when = when_deciding(subscriber_decider)


def create(**fields: object) -> CreateSubscriber:
    base: dict[str, object] = {"subscriber_id": 7, "uuid": UUID, "email": "tok-e",
                               "name": "tok-n", "attribs": "tok-a", "at": T0}
    return CreateSubscriber(**{**base, **fields})  # type: ignore[arg-type]


def test_create_records_the_subscriber_and_unconfirmed_subscriptions() -> None:
    assert when([], create(list_ids=(3, 1))) == [CREATED, subscribed([1, 3])]


def test_create_asks_for_optin_on_double_optin_lists_unless_preconfirmed() -> None:
    assert when([], create(list_ids=(1, 2), double_optin=frozenset({2, 9}))) == [
        CREATED, subscribed([1, 2]),
        OptinRequested(subscriber_id=7, list_ids=[2], at=T0)]
    assert when([], create(list_ids=(1, 2), double_optin=frozenset({2}), preconfirm=True)) == [
        CREATED, subscribed([1, 2], "confirmed")]


def test_a_blocklisted_subscriber_is_created_unsubscribed_without_optin() -> None:
    events = when([], create(status="blocklisted", list_ids=(1,), double_optin=frozenset({1})))
    assert events[1:] == [subscribed([1], "unsubscribed")]


def test_create_twice_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        when([CREATED], create())


@pytest.mark.parametrize("command", [
    UpdateSubscriber(subscriber_id=7, at=T1), BlocklistSubscriber(subscriber_id=7, at=T1),
    AddSubscriptions(subscriber_id=7, list_ids=(1,), at=T1),
    RemoveSubscriptions(subscriber_id=7, list_ids=(1,), at=T1),
    UnsubscribeLists(subscriber_id=7, list_ids=(1,), at=T1),
    RequestOptin(subscriber_id=7, at=T1), DeleteSubscriber(subscriber_id=7, at=T1),
])
def test_commands_on_a_missing_or_deleted_subscriber_are_not_found(
    command: SubscriberCommand
) -> None:
    for given in ([], [CREATED, SubscriberDeleted(subscriber_id=7, at=T0)]):
        with pytest.raises(NotFound):
            when(given, command)


def test_update_replaces_profile_and_keeps_what_is_not_given() -> None:
    assert when([CREATED], UpdateSubscriber(subscriber_id=7, email="tok-e2", at=T1)) == [
        SubscriberUpdated(subscriber_id=7, email="tok-e2", name="tok-n", attribs="tok-a",
                          status="enabled", at=T1)]


def test_update_with_lists_follows_listmonk_status_rules() -> None:
    given = [CREATED, subscribed([1]), subscribed([2], "confirmed"),
             subscribed([3], "unsubscribed"), subscribed([4])]
    events = when(given, UpdateSubscriber(subscriber_id=7, list_ids=(1, 2, 3, 5),
                                          preconfirm=True, at=T1))
    assert events[1:] == [
        RemovedFromLists(subscriber_id=7, list_ids=[4], status="unconfirmed", at=T1),
        SubscribedToLists(subscriber_id=7, list_ids=[5], status="confirmed", at=T1),
        SubscriptionStatusChanged(subscriber_id=7, list_ids=[1], status="confirmed",
                                  previous_status="unconfirmed", at=T1),
    ]


def test_update_to_blocklisted_unsubscribes_everything() -> None:
    given = [CREATED, subscribed([1, 2])]
    events = when(given, UpdateSubscriber(subscriber_id=7, status="blocklisted", at=T1))
    assert events[1:] == [SubscriptionStatusChanged(
        subscriber_id=7, list_ids=[1, 2], status="unsubscribed", previous_status="unconfirmed",
        at=T1)]


def test_update_asks_for_optin_only_for_given_double_optin_lists() -> None:
    events = when([CREATED, subscribed([2])], UpdateSubscriber(
        subscriber_id=7, list_ids=(1, 2), double_optin=frozenset({1, 2, 3}), at=T1))
    assert events[-1] == OptinRequested(subscriber_id=7, list_ids=[1, 2], at=T1)


def test_blocklist_changes_status_and_unsubscribes_all() -> None:
    given = [CREATED, subscribed([1]), subscribed([2], "confirmed"),
             subscribed([3], "unsubscribed")]
    assert when(given, BlocklistSubscriber(subscriber_id=7, at=T1)) == [
        SubscriberStatusChanged(subscriber_id=7, status="blocklisted", previous_status="enabled",
                                at=T1),
        SubscriptionStatusChanged(subscriber_id=7, list_ids=[1], status="unsubscribed",
                                  previous_status="unconfirmed", at=T1),
        SubscriptionStatusChanged(subscriber_id=7, list_ids=[2], status="unsubscribed",
                                  previous_status="confirmed", at=T1),
    ]
    blocked = given + when(given, BlocklistSubscriber(subscriber_id=7, at=T1))
    assert when(blocked, BlocklistSubscriber(subscriber_id=7, at=T1)) == []


def test_add_subscribes_new_lists_and_sets_status_only_when_given() -> None:
    given = [CREATED, subscribed([1], "confirmed")]
    assert when(given, AddSubscriptions(subscriber_id=7, list_ids=(1, 2), at=T1)) == [
        SubscribedToLists(subscriber_id=7, list_ids=[2], status="unconfirmed", at=T1)]
    assert when(given, AddSubscriptions(subscriber_id=7, list_ids=(1, 2),
                                        status="unsubscribed", at=T1)) == [
        SubscribedToLists(subscriber_id=7, list_ids=[2], status="unsubscribed", at=T1),
        SubscriptionStatusChanged(subscriber_id=7, list_ids=[1], status="unsubscribed",
                                  previous_status="confirmed", at=T1)]


def test_remove_and_unsubscribe_touch_only_existing_subscriptions() -> None:
    given = [CREATED, subscribed([1, 2])]
    assert when(given, RemoveSubscriptions(subscriber_id=7, list_ids=(2, 9), at=T1)) == [
        RemovedFromLists(subscriber_id=7, list_ids=[2], status="unconfirmed", at=T1)]
    assert when(given, UnsubscribeLists(subscriber_id=7, list_ids=(1, 9), at=T1)) == [
        SubscriptionStatusChanged(subscriber_id=7, list_ids=[1], status="unsubscribed",
                                  previous_status="unconfirmed", at=T1)]


def test_optin_covers_unconfirmed_double_optin_subscriptions() -> None:
    """Asked for explicitly (POST /optin): sent even when confirmations are off."""
    given = [CREATED, subscribed([1, 2]), subscribed([3], "confirmed")]
    assert when(given, RequestOptin(subscriber_id=7, double_optin=frozenset({2, 3}), at=T1)) == [
        OptinRequested(subscriber_id=7, list_ids=[2], explicit=True, at=T1)]
    assert when(given, RequestOptin(subscriber_id=7, double_optin=frozenset({3}), at=T1)) == []


def test_delete_removes_subscriptions_then_the_subscriber() -> None:
    given = [CREATED, subscribed([1]), subscribed([2], "confirmed")]
    assert when(given, DeleteSubscriber(subscriber_id=7, at=T1)) == [
        RemovedFromLists(subscriber_id=7, list_ids=[1], status="unconfirmed", at=T1),
        RemovedFromLists(subscriber_id=7, list_ids=[2], status="confirmed", at=T1),
        SubscriberDeleted(subscriber_id=7, at=T1)]
    assert isinstance(subscriber_decider.fold(
        given + when(given, DeleteSubscriber(subscriber_id=7, at=T1))), Deleted)


def test_evolve_tracks_profile_status_and_subscriptions() -> None:
    state = subscriber_decider.fold([
        CREATED, subscribed([1, 2]),
        SubscriptionStatusChanged(subscriber_id=7, list_ids=[2], status="confirmed",
                                  previous_status="unconfirmed", at=T1),
        RemovedFromLists(subscriber_id=7, list_ids=[1], status="unconfirmed", at=T1),
        SubscriberUpdated(subscriber_id=7, email="e2", name="n2", attribs="a2",
                          status="disabled", at=T1),
    ])
    assert state == Active(subscriber_id=7, uuid=UUID, email="e2", name="n2", attribs="a2",
                           status="disabled", subscriptions={2: "confirmed"}, updated_at=T1)


def test_subscription_changes_is_empty_when_nothing_moves() -> None:
    assert subscription_changes(7, {1: "confirmed"}, {1: "confirmed"}, T1) == []
