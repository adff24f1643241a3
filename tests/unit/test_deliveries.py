"""Delivery records: the retry request's decision and handler, what a progress event does to
the deliveries read model, and a campaign's plan as the sender folds it from its stream."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial

import msgspec
import pytest

from events.base import Event
from events.campaigns import (
    CampaignCancelled,
    CampaignContent,
    CampaignCreated,
    CampaignPaused,
    CampaignResumed,
    CampaignStarted,
)
from events.crypto import new_data_key
from events.deliveries import (
    DeliveriesRetryRequested,
    DeliveryProgress,
    FailedDelivery,
    RetryingDelivery,
    seal_error,
)
from events.registry import encode_data
from events.store import Position, RecordedEvent, StreamAppend
from kernel.errors import InvalidInput, NotFound
from projections.deliveries import DeliveriesProjection, Outcome, outcomes
from projections.registry import all_projections
from services.command_api.campaigns.decider import campaign_decider
from services.command_api.deliveries.decider import CANCELLED, RetryDeliveries, decide_retry
from services.command_api.deliveries.handlers import retry_deliveries
from services.sender.campaign_plan import fold_campaign
from tests.fake_store import InMemoryEventStore, run

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
CONTENT = CampaignContent(name="News", subject="Hi", from_email="a@example.com")
CREATED = CampaignCreated(campaign_id=3, uuid="c-uuid", campaign_type="regular",
                          content=CONTENT, at=T0)
STARTED = CampaignStarted(campaign_id=3, uuid="c-uuid", campaign_type="regular", list_ids=[1],
                          to_send=5, max_subscriber_id=50, template_id=None,
                          messenger="email", started_at=T0, at=T0)
RETRY = RetryDeliveries(campaign_id=3, failed=4, at=T0)


def state(*events: Event) -> object:
    return campaign_decider.fold(list(events))


def test_a_retry_of_a_finished_or_running_campaign_is_its_next_round() -> None:
    assert decide_retry(state(CREATED, STARTED), 2, RETRY) == [
        DeliveriesRetryRequested(campaign_id=3, round=3, count=4, at=T0)]
    paused = state(CREATED, STARTED, CampaignPaused(campaign_id=3, at=T0))
    assert decide_retry(paused, 3, RETRY)[0].round == 4  # type: ignore[attr-defined]


def test_nothing_to_retry_records_nothing_and_refusals_say_why() -> None:
    assert decide_retry(state(CREATED, STARTED), 2, RetryDeliveries(campaign_id=3, at=T0)) == []
    assert decide_retry(state(CREATED), 1, RETRY) == []  # a draft never sent anything
    with pytest.raises(NotFound):
        decide_retry(state(), 0, RETRY)
    cancelled = state(CREATED, STARTED, CampaignCancelled(campaign_id=3, at=T0))
    with pytest.raises(InvalidInput, match=CANCELLED):
        decide_retry(cancelled, 3, RETRY)


class Failed:
    def __init__(self, count: int) -> None:
        self.count = count

    async def failed_count(self, campaign_id: int) -> int:
        return self.count


async def test_the_retry_handler_counts_the_failures_and_appends_to_the_campaign() -> None:
    store = InMemoryEventStore()
    store.append(StreamAppend("campaign-3", 0, [CREATED, STARTED]))
    store.commit()
    command = RetryDeliveries(campaign_id=3, at=T0)
    assert await run(store, partial(retry_deliveries, command, deliveries=Failed(2))) == {
        "count": 2}
    assert store.events("campaign-3")[-1] == DeliveriesRetryRequested(
        campaign_id=3, round=3, count=2, at=T0)
    assert await run(store, partial(retry_deliveries, command, deliveries=Failed(0))) == {
        "count": 0}
    assert len(store.events("campaign-3")) == 3


def test_a_progress_event_gives_each_subscriber_one_outcome_with_attempts_summed() -> None:
    key = new_data_key()
    event = DeliveryProgress(
        campaign_id=3, chunk=0, messenger="email", delivered=[1, 2],
        failed=[FailedDelivery(subscriber_id=3, code=550,
                               error=seal_error(key, 3, "no such user"))],
        retrying=[RetryingDelivery(subscriber_id=2, code=451),
                  RetryingDelivery(subscriber_id=4, code=421)], at=T0)
    assert outcomes(event, {3: key}) == {
        2: Outcome("sent", 2, 0, ""), 4: Outcome("retrying", 1, 421, ""),
        3: Outcome("failed", 1, 550, "no such user"), 1: Outcome("sent", 1, 0, "")}
    assert outcomes(event, {})[3].error == "[erased]"


def test_the_deliveries_projection_is_registered_and_reads_what_it_needs() -> None:
    projection = next(p for p in all_projections() if isinstance(p, DeliveriesProjection))
    assert projection.categories == ("delivery", "subscriber", "campaign")
    assert projection.applied_on_frozen_streams == {"subscriber.deleted", "campaign.deleted"}


def recorded(events: list[Event]) -> list[RecordedEvent]:
    return [RecordedEvent(position=Position(1, n), event_id=uuid.uuid4(),
                          stream_id="campaign-3", category=type(e).CATEGORY, version=n,
                          type=e.event_type, schema_version=1,
                          data=msgspec.json.decode(encode_data(e)), metadata={},
                          recorded_at=T0) for n, e in enumerate(events, start=1)]


def test_the_sender_folds_the_audience_status_and_retry_round_from_the_stream() -> None:
    resumed = CampaignResumed(campaign_id=3, uuid="c-uuid", campaign_type="regular",
                              list_ids=[1, 2], to_send=9, max_subscriber_id=80,
                              template_id=4, messenger="email-bulk", started_at=T0, at=T0)
    plan = fold_campaign(recorded([
        CREATED, STARTED, CampaignPaused(campaign_id=3, at=T0, reason="Too many errors"),
        DeliveriesRetryRequested(campaign_id=3, round=4, count=1, at=T0), resumed]))
    assert plan is not None
    assert (plan.status, plan.list_ids, plan.max_subscriber_id, plan.template_id,
            plan.messenger, plan.launch_version, plan.retry_round) == (
        "running", (1, 2), 80, 4, "email-bulk", 5, 4)
    assert plan.running and plan.sendable
    assert fold_campaign(recorded([CREATED])) is not None
    assert not fold_campaign(recorded([CREATED])).sendable  # type: ignore[union-attr]
    assert fold_campaign([]) is None
