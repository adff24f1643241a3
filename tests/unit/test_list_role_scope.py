"""List roles on writes, without I/O: the principal's list filters, the subscriber command
scope, the decider keeping the lists a caller may not manage, and the masking of a
subscriber's lists (issue 12, part 3)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from events.subscribers import (
    OptinRequested,
    RemovedFromLists,
    SubscribedToLists,
    SubscriberCreated,
    SubscriptionStatusChanged,
)
from kernel.errors import Forbidden
from readmodels.subscriber_listing import mask_lists
from services.auth.principal import Principal
from services.command_api.subscribers.commands import UpdateSubscriber
from services.command_api.subscribers.decider import Active, subscriber_decider
from services.command_api.subscribers.scope import ListScope, scope_of
from tests.unit.given_when_then import when_deciding

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
CREATED = SubscriberCreated(subscriber_id=7, uuid="1bb246ab-7417-4cef-bddc-8fc8fc941d3a",
                            email="tok-e", name="tok-n", attribs="tok-a", status="enabled",
                            at=T0)
when = when_deciding(subscriber_decider)


def user(*permissions: str, grants: dict[int, set[str]] | None = None) -> Principal:
    return Principal(user_id=5, username="bot", user_type="api", user_role_id=9,
                     permissions=frozenset(permissions), list_role_id=3,
                     list_grants={k: frozenset(v) for k, v in (grants or {}).items()})


MANAGES_A = {1: {"list:get", "list:manage"}, 3: {"list:get"}}


def active(*lists: int) -> Active:
    state = subscriber_decider.fold([CREATED, SubscribedToLists(
        subscriber_id=7, list_ids=list(lists), status="unconfirmed", at=T0)] if lists
        else [CREATED])
    assert isinstance(state, Active)
    return state


def test_subscriber_write_targets_are_the_manageable_lists_or_refused() -> None:
    u = user(grants=MANAGES_A)
    assert u.target_lists([1, 2, 3]) == (1,)
    assert u.target_lists([]) == ()
    with pytest.raises(Forbidden, match=r"^Permission denied: lists$"):
        u.target_lists([2, 3])
    assert user("lists:manage_all", grants=MANAGES_A).target_lists([1, 2]) == (1, 2)


def test_campaign_targets_follow_listmonks_get_filter() -> None:
    assert user(grants=MANAGES_A).campaign_target_lists([1, 2, 3]) == (1, 3)
    assert user(grants={2: {"list:manage"}}).campaign_target_lists([2]) == ()
    assert user("lists:manage_all").campaign_target_lists([2]) == (2,)


def test_the_scope_refuses_a_subscriber_on_none_of_the_reachable_lists() -> None:
    scope = scope_of(user(grants=MANAGES_A))
    assert scope == ListScope(reach=frozenset({1, 3}), manage=frozenset({1}))
    scope.check([active(1, 2), active(3)])
    for state in (active(2), active()):
        with pytest.raises(Forbidden, match=r"^Permission denied: subscriber: 7$"):
            scope.check([active(1), state])
    assert scope.kept(active(1, 2, 3)) == frozenset({2, 3})
    for everything in ("lists:get_all", "lists:manage_all"):
        scope_of(user(everything)).check([active(2)])
    assert scope_of(user("lists:manage_all")).kept(active(2)) == frozenset()


def test_a_replacing_update_leaves_the_kept_lists_as_they_are() -> None:
    given = [CREATED, SubscribedToLists(subscriber_id=7, list_ids=[1, 2, 3],
                                        status="unconfirmed", at=T0)]
    events = when(given, UpdateSubscriber(subscriber_id=7, list_ids=(4,), keep=frozenset({2}),
                                          preconfirm=True, double_optin=frozenset({2, 4}),
                                          at=T1))
    assert events[1:] == [
        RemovedFromLists(subscriber_id=7, list_ids=[1, 3], status="unconfirmed", at=T1),
        SubscribedToLists(subscriber_id=7, list_ids=[4], status="confirmed", at=T1)]
    events = when(given, UpdateSubscriber(subscriber_id=7, list_ids=(), keep=frozenset({2, 9}),
                                          double_optin=frozenset({2}), at=T1))
    assert events[1:] == [
        RemovedFromLists(subscriber_id=7, list_ids=[1, 3], status="unconfirmed", at=T1)]
    assert not any(isinstance(e, (OptinRequested, SubscriptionStatusChanged)) for e in events)


def test_lists_the_user_may_not_see_are_masked() -> None:
    subscriber: dict[str, Any] = {"id": 7, "lists": [
        {"id": 1, "name": "A", "description": "a", "subscription_status": "confirmed"},
        {"id": 2, "name": "B", "description": "b", "subscription_status": "unconfirmed"}]}
    visible = user(grants=MANAGES_A).visible_lists()
    assert mask_lists(subscriber, visible)["lists"] == [
        {"id": 1, "name": "A", "description": "a", "subscription_status": "confirmed"},
        {"id": 2, "name": "*Unknown", "subscription_status": "unconfirmed",
         "restricted": True}]
    assert subscriber["lists"][1]["name"] == "B"  # the given subscriber is not changed
    for everything in ("lists:get_all", "lists:manage_all"):
        assert mask_lists(subscriber, user(everything).visible_lists()) == subscriber
