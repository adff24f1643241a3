"""The campaign commands around delivery: a start refused while the campaign's messenger is
not enabled, the sender's finish and its pause with a reason; the enabled messengers a
settings object gives."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from functools import partial

import msgspec
import pytest

from events.campaigns import CampaignCreated, CampaignFinished, CampaignPaused, CampaignStarted
from events.settings import PostbackMessenger, SMTPServer, default_settings
from kernel.errors import InvalidInput
from services.command_api.campaigns import handlers
from services.command_api.campaigns.commands import (
    ONLY_ACTIVE_PAUSE,
    ONLY_RUNNING_FINISH,
    ChangeStatus,
    FinishCampaign,
    PauseSending,
    StartDue,
)
from services.command_api.campaigns.messengers import enabled_messengers
from tests.fake_store import InMemoryEventStore, run
from tests.unit.test_campaigns_handlers import created, with_lists_and_default_template

T2 = datetime(2024, 1, 1, 11, 0, tzinfo=UTC)


class Enabled:
    """``MessengerAvailability`` with fixed names."""

    def __init__(self, *names: str) -> None:
        self.names = names

    async def enabled_messengers(self) -> Collection[str]:
        return self.names


async def campaign(store: InMemoryEventStore, send_at: datetime | None = None) -> None:
    lookups = with_lists_and_default_template(store)
    await created(store, lookups, send_at=send_at)


async def start(store: InMemoryEventStore, *names: str) -> None:
    lookups = with_lists_and_default_template(store)
    await run(store, partial(handlers.change_status,
                             ChangeStatus(campaign_id=1, status="running", at=T2),
                             lookups=lookups, messengers=Enabled(*names)))


async def test_a_start_is_refused_while_the_campaigns_messenger_is_not_enabled() -> None:
    store = InMemoryEventStore()
    await campaign(store)
    with pytest.raises(InvalidInput, match="messenger 'email' is not enabled"):
        await start(store, "postback")
    assert [type(e) for e in store.events("campaign-1")] == [CampaignCreated]
    await start(store, "email")
    assert isinstance(store.events("campaign-1")[-1], CampaignStarted)


async def test_a_due_campaign_stays_scheduled_without_an_enabled_messenger() -> None:
    store = InMemoryEventStore()
    await campaign(store, send_at=T2 + timedelta(days=1))
    lookups = with_lists_and_default_template(store)
    await run(store, partial(handlers.change_status,
                             ChangeStatus(campaign_id=1, status="scheduled", at=T2),
                             lookups=lookups))
    due = StartDue(campaign_id=1, at=T2 + timedelta(days=2))
    with pytest.raises(InvalidInput):
        await run(store, partial(handlers.start_due, due, lookups=lookups,
                                 messengers=Enabled()))
    assert not isinstance(store.events("campaign-1")[-1], CampaignStarted)


async def test_pausing_needs_no_messenger_check_and_scheduling_is_not_a_start() -> None:
    store = InMemoryEventStore()
    await campaign(store)
    await start(store, "email")
    lookups = with_lists_and_default_template(store)
    await run(store, partial(handlers.change_status,
                             ChangeStatus(campaign_id=1, status="paused", at=T2),
                             lookups=lookups, messengers=Enabled()))
    assert isinstance(store.events("campaign-1")[-1], CampaignPaused)


async def test_the_sender_finishes_a_running_campaign_once() -> None:
    store = InMemoryEventStore()
    await campaign(store)
    await start(store, "email")
    await run(store, partial(handlers.finish_campaign, FinishCampaign(campaign_id=1, at=T2)))
    assert store.events("campaign-1")[-1] == CampaignFinished(campaign_id=1, at=T2)
    with pytest.raises(InvalidInput, match=ONLY_RUNNING_FINISH):
        await run(store, partial(handlers.finish_campaign,
                                 FinishCampaign(campaign_id=1, at=T2)))


async def test_the_sender_pauses_a_running_campaign_with_its_reason() -> None:
    store = InMemoryEventStore()
    await campaign(store)
    await start(store, "email")
    command = PauseSending(campaign_id=1, reason="Too many errors", at=T2)
    await run(store, partial(handlers.pause_sending, command))
    assert store.events("campaign-1")[-1] == CampaignPaused(campaign_id=1, at=T2,
                                                             reason="Too many errors")
    with pytest.raises(InvalidInput, match=ONLY_ACTIVE_PAUSE):
        await run(store, partial(handlers.pause_sending, command))


def test_enabled_messengers_are_listmonks_names_of_what_the_settings_enable() -> None:
    settings = msgspec.structs.replace(default_settings(), smtp=[
        SMTPServer(host="a", enabled=True), SMTPServer(name="email-bulk", host="b"),
        SMTPServer(name="off", host="c", enabled=False)],
        messengers=[PostbackMessenger(name="hook", enabled=True),
                    PostbackMessenger(name="idle", enabled=False)])
    assert enabled_messengers(settings) == ["email", "email-bulk", "hook"]
    nothing = msgspec.structs.replace(settings, smtp=[], messengers=[])
    assert enabled_messengers(nothing) == []
