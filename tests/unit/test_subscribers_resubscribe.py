"""``ResubscribeLists`` (a public sign-up of a known e-mail), given/when/then on the decider."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.base import Event
from events.subscribers import (
    OptinRequested,
    SubscribedToLists,
    SubscriberCreated,
    SubscriberDeleted,
    SubscriberStatusChanged,
    SubscriptionStatusChanged,
)
from kernel.errors import NotFound
from services.command_api.subscribers.commands import ResubscribeLists
from services.command_api.subscribers.decider import subscriber_decider
from tests.unit.given_when_then import when_deciding

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
CREATED = SubscriberCreated(subscriber_id=7, uuid="1bb246ab-7417-4cef-bddc-8fc8fc941d3a",
                            email="tok-e", name="tok-n", attribs="tok-a", status="enabled",
                            at=T0)
HAS_THREE = [CREATED,
             SubscribedToLists(subscriber_id=7, list_ids=[1], status="confirmed", at=T0),
             SubscribedToLists(subscriber_id=7, list_ids=[2], status="unsubscribed", at=T0),
             SubscribedToLists(subscriber_id=7, list_ids=[3], status="unconfirmed", at=T0)]


def when(given: list[Event], lists: tuple[int, ...], double: set[int]) -> list[Event]:
    return deciding(given, ResubscribeLists(
        subscriber_id=7, list_ids=lists, double_optin=frozenset(double), at=T1))


deciding = when_deciding(subscriber_decider)


def test_new_and_unsubscribed_become_unconfirmed_and_confirmed_stay() -> None:
    assert when(HAS_THREE, (1, 2, 4), set()) == [
        SubscribedToLists(subscriber_id=7, list_ids=[4], status="unconfirmed", at=T1),
        SubscriptionStatusChanged(subscriber_id=7, list_ids=[2], status="unconfirmed",
                                  previous_status="unsubscribed", at=T1)]


def test_optin_covers_every_unconfirmed_double_optin_subscription() -> None:
    assert when(HAS_THREE, (4,), {1, 3, 4})[-1] == OptinRequested(
        subscriber_id=7, list_ids=[3, 4], at=T1)
    assert when(HAS_THREE, (1,), {1}) == []


def test_a_blocklisted_subscriber_gets_unsubscribed_subscriptions_and_no_optin() -> None:
    blocked = [CREATED, SubscriberStatusChanged(subscriber_id=7, status="blocklisted",
                                                previous_status="enabled", at=T0)]
    assert when(blocked, (5,), {5}) == [
        SubscribedToLists(subscriber_id=7, list_ids=[5], status="unsubscribed", at=T1)]


def test_a_deleted_subscriber_is_not_found() -> None:
    with pytest.raises(NotFound):
        when([CREATED, SubscriberDeleted(subscriber_id=7, at=T0)], (1,), set())
