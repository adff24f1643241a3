"""The bounce rules without I/O: the pure bounce decider (given/when/then) at listmonk's
default thresholds and with each action, and the record handler against the in-memory store
(who it finds, what it seals, that a delete erases)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from events.bounces import BounceActionApplied, BounceRecorded, BouncesDeleted, BouncesRemoved
from events.crypto import is_encrypted
from events.subscribers import (
    SubscribedToLists,
    SubscriberCreated,
    SubscriberDeleted,
    SubscriberStatusChanged,
    SubscriptionStatusChanged,
)
from events.validation import InvalidText
from services.command_api.bounces import handlers
from services.command_api.bounces.intake import BounceInput, checked, safe_meta
from services.command_api.subscribers import handlers as subscriber_handlers
from services.command_api.subscribers.bounce_decider import (
    BlocklistBounced,
    DeleteBounces,
    RecordBounce,
    bounces_decider,
)
from services.command_api.subscribers.fields import SubscriberFields
from services.command_api.subscribers.index import subscriber_with_email
from services.command_api.subscribers.sealing import unseal
from tests.fake_store import InMemoryEventStore, run
from tests.unit.given_when_then import when_deciding

when = when_deciding(bounces_decider)

T0 = datetime(2024, 8, 22, 9, 5, tzinfo=UTC)
SID = 7
CREATED = SubscriberCreated(subscriber_id=SID, uuid=str(uuid.uuid4()), email="e", name="n",
                            attribs="a", status="enabled", at=T0)
SUBSCRIBED = SubscribedToLists(subscriber_id=SID, list_ids=[1, 2], status="confirmed", at=T0)
DEFAULTS = {"soft": (2, "none"), "hard": (1, "blocklist"), "complaint": (1, "blocklist")}


def bounce(bounce_id: int, kind: Any = "soft", action: tuple[int, str] | None = None
           ) -> RecordBounce:
    count, act = action or DEFAULTS[kind]
    return RecordBounce(subscriber_id=SID, bounce_id=bounce_id, campaign_id=3, kind=kind,
                        source="api", meta="sealed", at=T0, count=count, action=act)


def recorded(c: RecordBounce) -> BounceRecorded:
    return BounceRecorded(subscriber_id=SID, bounce_id=c.bounce_id, campaign_id=c.campaign_id,
                          kind=c.kind, source=c.source, meta=c.meta, at=c.at)


def test_two_soft_bounces_are_recorded_and_change_nothing_else() -> None:
    first, second = bounce(1), bounce(2)
    assert when([CREATED, SUBSCRIBED], first) == [recorded(first)]
    assert when([CREATED, SUBSCRIBED, recorded(first)], second) == [recorded(second)]


def test_a_third_soft_bounce_is_not_recorded_as_listmonk_caps_them_at_the_count() -> None:
    given = [CREATED, recorded(bounce(1)), recorded(bounce(2))]
    assert when(given, bounce(3)) == []


def test_one_hard_bounce_blocklists_and_says_why() -> None:
    hard = bounce(1, "hard")
    events = when([CREATED, SUBSCRIBED], hard)
    assert events[0] == recorded(hard)
    cause = events[1]
    assert isinstance(cause, BounceActionApplied)
    assert (cause.action, cause.rule, cause.bounce_id, cause.kind, cause.count,
            cause.threshold) == ("blocklist", "bounce_actions", 1, "hard", 1, 1)
    assert "hard" in cause.reason and "threshold of 1" in cause.reason
    # listmonk's record-bounce blocklists the subscriber and leaves its subscriptions.
    assert events[2:] == [SubscriberStatusChanged(subscriber_id=SID, status="blocklisted",
                                                  previous_status="enabled", at=T0)]


def test_a_complaint_blocklists_too() -> None:
    events = when([CREATED], bounce(1, "complaint"))
    assert [type(e) for e in events] == [BounceRecorded, BounceActionApplied,
                                         SubscriberStatusChanged]
    assert isinstance(events[1], BounceActionApplied) and events[1].kind == "complaint"


def test_a_blocklisted_subscriber_bounce_is_not_recorded_and_nothing_happens() -> None:
    blocklisted = SubscriberStatusChanged(subscriber_id=SID, status="blocklisted",
                                          previous_status="enabled", at=T0)
    assert when([CREATED, blocklisted], bounce(1, "hard")) == []
    assert when([CREATED, blocklisted], bounce(1, "soft")) == []


def test_the_unsubscribe_action_unsubscribes_every_list_at_the_threshold() -> None:
    rule = (2, "unsubscribe")
    first = bounce(1, "soft", rule)
    assert when([CREATED, SUBSCRIBED], first) == [recorded(first)]
    second = bounce(2, "soft", rule)
    events = when([CREATED, SUBSCRIBED, recorded(first)], second)
    assert events[0] == recorded(second)
    assert isinstance(events[1], BounceActionApplied) and events[1].action == "unsubscribe"
    assert events[2:] == [SubscriptionStatusChanged(
        subscriber_id=SID, list_ids=[1, 2], status="unsubscribed", previous_status="confirmed",
        at=T0)]


def test_an_action_that_changes_nothing_records_no_cause() -> None:
    unsubscribed = SubscribedToLists(subscriber_id=SID, list_ids=[1], status="unsubscribed",
                                     at=T0)
    hard = bounce(1, "hard", (1, "unsubscribe"))
    assert when([CREATED, unsubscribed], hard) == [recorded(hard)]
    assert when([CREATED], bounce(1, "hard", (1, "none"))) == [recorded(bounce(1, "hard"))]


def test_the_delete_action_deletes_the_subscriber_even_when_blocklisted() -> None:
    rule = (1, "delete")
    hard = bounce(1, "hard", rule)
    events = when([CREATED, SUBSCRIBED], hard)
    assert events[0] == recorded(hard)
    assert isinstance(events[1], BounceActionApplied) and events[1].action == "delete"
    assert isinstance(events[-1], SubscriberDeleted)
    blocklisted = SubscriberStatusChanged(subscriber_id=SID, status="blocklisted",
                                          previous_status="enabled", at=T0)
    events = when([CREATED, blocklisted], hard)
    assert [type(e) for e in events] == [BounceActionApplied, SubscriberDeleted]
    assert isinstance(events[0], BounceActionApplied) and events[0].bounce_id is None


def test_counts_are_per_kind_and_restart_after_a_deletion() -> None:
    soft1, soft2 = recorded(bounce(1)), recorded(bounce(2))
    rule = (2, "blocklist")
    # one soft and one hard: neither kind reached 2
    hard = bounce(3, "hard", rule)
    assert when([CREATED, soft1], hard) == [recorded(hard)]
    deleted = BouncesDeleted(subscriber_id=SID, at=T0)
    assert when([CREATED, soft1, soft2, deleted], bounce(4, "soft", rule)) == [
        recorded(bounce(4, "soft", rule))]
    removed = BouncesRemoved(subscriber_id=SID, bounce_ids=[1], at=T0)
    events = when([CREATED, soft1, soft2, removed], bounce(5, "soft", rule))
    assert [type(e) for e in events] == [BounceRecorded, BounceActionApplied,
                                         SubscriberStatusChanged]


def test_no_subscriber_no_events() -> None:
    assert when([], bounce(1, "hard")) == []
    assert when([CREATED, SubscriberDeleted(subscriber_id=SID, at=T0)], bounce(1, "hard")) == []


def test_deleting_some_bounces_by_id_keeps_only_the_subscribers_open_ones() -> None:
    given = [CREATED, recorded(bounce(1)), recorded(bounce(2))]
    assert when(given, DeleteBounces(subscriber_id=SID, at=T0, bounce_ids=(2, 9))) == [
        BouncesRemoved(subscriber_id=SID, bounce_ids=[2], at=T0)]
    assert when(given, DeleteBounces(subscriber_id=SID, at=T0, bounce_ids=(9,))) == []
    assert when(given, DeleteBounces(subscriber_id=SID, at=T0)) == [
        BouncesDeleted(subscriber_id=SID, at=T0)]


def test_blocklisting_the_bounced_blocklists_and_unsubscribes_with_its_cause() -> None:
    command = BlocklistBounced(subscriber_id=SID, at=T0)
    assert when([CREATED, SUBSCRIBED], command) == []
    events = when([CREATED, SUBSCRIBED, recorded(bounce(1))], command)
    assert isinstance(events[0], BounceActionApplied)
    assert (events[0].rule, events[0].action, events[0].count) == (
        "blocklist_bounced", "blocklist", 1)
    assert [type(e) for e in events[1:]] == [SubscriberStatusChanged,
                                             SubscriptionStatusChanged]


# --- the handler against the in-memory store -------------------------------------------------


class FakeLookups:
    def __init__(self, subscribers: dict[str, int] | None = None,
                 campaigns: dict[str, int] | None = None) -> None:
        self.subscribers = subscribers or {}
        self.campaigns = campaigns or {}

    async def subscriber_by_uuid(self, uuid: str) -> int | None:
        return self.subscribers.get(uuid.lower())

    async def campaign_by_uuid(self, uuid: str) -> int | None:
        return self.campaigns.get(uuid.lower())


ACTIONS: Any = {kind: type("Rule", (), {"count": c, "action": a})()
                for kind, (c, a) in DEFAULTS.items()}


async def subscriber(store: InMemoryEventStore, email: str = "ann@example.com") -> int:
    new = subscriber_handlers.new_subscriber(SubscriberFields(email=email),
                                             str(uuid.uuid4()), T0)
    return int((await run(store, partial(subscriber_handlers.create_subscriber, new)))[
        "subscriber_id"])


def to_record(**fields: Any) -> handlers.BounceToRecord:
    kind = fields.pop("kind", "hard")
    return checked(BounceInput(kind=kind, source="api", **fields), ACTIONS, now=T0)


async def test_a_bounce_by_email_is_recorded_sealed_with_its_campaign() -> None:
    store = InMemoryEventStore()
    sid = await subscriber(store)
    camp = str(uuid.uuid4())
    result = await run(store, partial(handlers.record_bounce, to_record(
        email="ANN@example.com", campaign_uuid=camp, meta={"why": "ann@example.com"}),
        bounces=FakeLookups(campaigns={camp: 4})))
    assert result["recorded"] is True and result["subscriber_id"] == sid
    events = store.events(f"subscriber-{sid}")
    bounced = next(e for e in events if isinstance(e, BounceRecorded))
    assert bounced.campaign_id == 4 and bounced.bounce_id == 1
    assert is_encrypted(bounced.meta)
    assert unseal(store.keys[sid], sid, "meta", bounced.meta) == {"why": "ann@example.com"}
    assert isinstance(events[-1], SubscriberStatusChanged)  # hard: blocklisted


async def test_an_unknown_subscriber_records_nothing() -> None:
    store = InMemoryEventStore()
    await subscriber(store)
    before = len(store.log)
    for record in (to_record(email="nobody@example.com"),
                   to_record(subscriber_uuid=str(uuid.uuid4()))):
        result = await run(store, partial(handlers.record_bounce, record,
                                          bounces=FakeLookups()))
        assert result == {"recorded": False}
    assert len(store.log) == before


async def test_the_delete_action_erases_the_subscriber() -> None:
    store = InMemoryEventStore()
    sid = await subscriber(store)
    rules: Any = {**ACTIONS, "hard": type("Rule", (), {"count": 1, "action": "delete"})()}
    record = checked(BounceInput(kind="hard", source="api", email="ann@example.com"), rules)
    assert await subscriber_with_email(store, "ann@example.com") == sid
    await run(store, partial(handlers.record_bounce, record, bounces=FakeLookups()))
    assert isinstance(store.events(f"subscriber-{sid}")[-1], SubscriberDeleted)
    assert sid not in store.keys and sid in store.erased
    assert await subscriber_with_email(store, "ann@example.com") is None


def test_hostile_input_is_refused_before_any_command() -> None:
    with pytest.raises(InvalidText):
        checked(BounceInput(kind="hard", source="a\x00b", email="a@b.c"), ACTIONS)
    with pytest.raises(InvalidText):
        checked(BounceInput(kind="hard", source="api", email="a@b.c",
                            meta={"x": "\x00"}), ACTIONS, strict=True)
    with pytest.raises(InvalidText):
        checked(BounceInput(kind="hard", source="api", email="a@b.c",
                            meta={"x": "y" * 300_000}), ACTIONS, strict=True)
    with pytest.raises(InvalidText):
        checked(BounceInput(kind="bad", source="api", email="a@b.c"),  # type: ignore[arg-type]
                ACTIONS)
    with pytest.raises(InvalidText):
        checked(BounceInput(kind="hard", source="api"), ACTIONS)
    # what a provider or a bounced e-mail sent is made safe instead
    assert safe_meta({"x": "\x00"}) == {"postlog": "meta dropped: invalid meta: it contains"
                                                   " a NUL character (U+0000)"}
    assert list(safe_meta([1] * 200_000)) == ["postlog"]
