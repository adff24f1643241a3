"""Single-message delivery without I/O: what a message's stream says, what an attempt records,
the read model's rows, the priority gate, and the sender's own e-mails."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from psycopg import sql

from events.base import Event
from events.campaigns import CampaignFinished, CampaignPaused
from events.crypto import new_data_key
from events.message_deliveries import (
    MessageDelivered,
    MessageFailed,
    MessageSkipped,
    open_error,
    request_message_id,
)
from events.messages import MessageContent, TxMessageQueued
from events.registry import encode_data
from events.settings import SMTPServer, default_settings
from events.store import Position, RecordedEvent
from events.subscribers import OptinRequested, SubscriberDeleted
from postlog.export import personal_data_opener
from projections.message_deliveries import MESSAGES, MessageDeliveriesProjection
from services.sender.message_outcomes import RetryPolicy, expired, fold, outcome_of
from services.sender.messengers.base import DeliveryResult, OutgoingMessage, Recipient
from services.sender.messengers.priority import GatedMessenger, PriorityGate
from services.sender.messengers.smtp import EmailMessenger, SMTPServerPool
from services.sender.notifications import StatusDot, notify_addresses, render_status
from services.sender.optin import OptinList, optin_url, render_optin
from services.sender.service import GatedMessengers
from services.sender.templating.data import Subscriber

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
MID = str(uuid.uuid4())
QUEUED = TxMessageQueued(message_id=MID, subscriber_id=7, template_id=3,
                         sealed_with="subscriber", content="enc", from_email="a@b.c",
                         content_type="html", messenger="email", at=T0)
POLICY = RetryPolicy(attempts=3, backoff_seconds=5.0)


# --- a message's stream and its outcomes ----------------------------------------------------------

def test_a_stream_tells_the_attempts_and_whether_the_message_is_settled() -> None:
    retry = MessageFailed(message_id=MID, subscriber_id=7, messenger="email", attempt=1,
                          code=451, retry_at=T0, at=T0)
    state = fold([QUEUED, retry])
    assert (state.version, state.queued, state.attempts, state.settled) == (2, QUEUED, 1, False)
    done = MessageDelivered(message_id=MID, subscriber_id=7, messenger="email", attempt=2,
                            at=T0)
    assert fold([QUEUED, retry, done]).settled
    assert fold([QUEUED, MessageSkipped(message_id=MID, reason="x", at=T0)]).settled
    assert fold([]).queued is None


def test_a_temporary_failure_is_retried_with_back_off_then_recorded_for_good() -> None:
    key = new_data_key()
    later = DeliveryResult.retry_later(451, "4.7.1 greylisted <ann@example.org>")
    first = outcome_of(QUEUED, 1, "email", later, key=key, policy=POLICY, now=T0)
    assert not first.final and first.retry_at == T0 + timedelta(seconds=5)
    assert isinstance(first.event, MessageFailed) and first.event.retry_at == first.retry_at
    assert "ann@example.org" not in first.event.error  # sealed with the subscriber's key
    assert open_error(key, MID, 7, first.event.error) == "4.7.1 greylisted <ann@example.org>"
    second = outcome_of(QUEUED, 2, "email", later, key=key, policy=POLICY, now=T0)
    assert second.retry_at == T0 + timedelta(seconds=10)
    last = outcome_of(QUEUED, 3, "email", later, key=key, policy=POLICY, now=T0)
    assert last.final and last.retry_at is None


def test_a_permanent_failure_is_final_at_once_and_a_delivery_records_its_attempt() -> None:
    refused = outcome_of(QUEUED, 1, "email", DeliveryResult.refused(550, "5.1.1 no"),
                         key=None, policy=POLICY, now=T0)
    assert refused.final and isinstance(refused.event, MessageFailed)
    assert (refused.event.code, refused.event.error) == (550, "")  # no key: code only
    sent = outcome_of(QUEUED, 2, "email-bulk", DeliveryResult.ok(), key=None, policy=POLICY,
                      now=T0)
    assert sent.final and sent.event == MessageDelivered(
        message_id=MID, subscriber_id=7, messenger="email-bulk", attempt=2, code=250, at=T0)


def test_the_log_export_opens_a_subscribers_failure_text_and_redacts_it_once_erased() -> None:
    key = new_data_key()
    failed = outcome_of(QUEUED, 3, "email", DeliveryResult.refused(550, "5.1.1 <ann@x.org>"),
                        key=key, policy=POLICY, now=T0).event
    record = {"event_id": "e", "data": msgspec.json.decode(encode_data(failed))}
    assert personal_data_opener({7: key})(record)["data"]["error"] == "5.1.1 <ann@x.org>"
    assert personal_data_opener({})(record)["data"]["error"] == "[erased]"


def test_a_message_never_tried_expires_after_max_age() -> None:
    assert expired(T0, T0 + timedelta(hours=25), 24 * 3600)
    assert not expired(T0, T0 + timedelta(hours=23), 24 * 3600)
    assert not expired(T0, T0 + timedelta(days=9), 0)


# --- the read model -------------------------------------------------------------------------------

def recorded(event: Event, n: int = 1) -> RecordedEvent:
    return RecordedEvent(position=Position(5, n), event_id=uuid.uuid4(), stream_id="s",
                         category=type(event).CATEGORY, version=n, type=event.event_type,
                         schema_version=1, data=msgspec.json.decode(encode_data(event)),
                         metadata={}, recorded_at=T0)


def statements(event: Event) -> list[tuple[str, list[Any]]]:
    projection = MessageDeliveriesProjection()
    tables = {MESSAGES: sql.Identifier("readmodel", MESSAGES)}
    out = projection.apply_prepared(recorded(event), tables, {})
    return [(repr(s), list(p)) for s, p in out]


def test_requests_become_rows_with_ids_every_process_derives_alike() -> None:
    optin = recorded(OptinRequested(subscriber_id=7, list_ids=[2, 3], at=T0))
    projection = MessageDeliveriesProjection()
    tables = {MESSAGES: sql.Identifier("readmodel", MESSAGES)}
    [(_, values)] = projection.apply_prepared(optin, tables, {})
    params = list(values)  # positional parameters
    assert params[0] == request_message_id(optin.event_id, "optin")
    assert params[1:3] == ["optin", 7] and params[6] == "requested"
    assert params[8:10] == [5, 1]  # the request's position: read models must reach it first
    assert request_message_id(optin.event_id, "optin") != request_message_id(
        optin.event_id, "notification")
    [(_, paused)] = statements(CampaignPaused(campaign_id=4, reason="Too many errors", at=T0))
    assert paused[1] == "notification" and paused[3] == 4
    assert paused[7].obj == {"status": "paused", "reason": "Too many errors"}
    [(_, finished)] = statements(CampaignFinished(campaign_id=4, at=T0))
    assert finished[7].obj == {"status": "finished", "reason": ""}


def test_an_erased_subscriber_leaves_no_row() -> None:
    [(text, params)] = statements(SubscriberDeleted(subscriber_id=7, at=T0))
    assert "DELETE" in text and params == [7]


# --- the priority gate ----------------------------------------------------------------------------

class Blocking:
    """A messenger whose sends wait until let through."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.go = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        await self.go.wait()
        self.sent.append(message.message_id)
        return DeliveryResult.ok()

    async def close(self) -> None:
        return None


def message(mid: str) -> OutgoingMessage:
    return OutgoingMessage(message_id=mid, from_email="a@b.c", content_type="html",
                           content=MessageContent(to=["x@y.z"], subject="s", body="b"),
                           recipient=Recipient(uuid="", email="x@y.z"))


async def test_campaign_sends_wait_while_a_single_message_is_under_way_on_their_transport() -> None:
    gate = PriorityGate()
    shared, other = Blocking("email"), Blocking("hook")
    bulk, elsewhere = gate.bulk(shared), gate.bulk(other)
    assert gate.bulk(shared) is bulk  # one wrapper per messenger
    other.go.set()

    async def tx() -> None:
        async with gate.priority(shared):
            await shared.send(message("tx"))

    single = asyncio.create_task(tx())
    await asyncio.sleep(0)
    campaign = asyncio.create_task(bulk.send(message("campaign")))
    assert (await elsewhere.send(message("postback"))).delivered  # another transport: free
    await asyncio.sleep(0.01)
    assert not campaign.done() and gate.busy(shared)
    shared.go.set()
    await asyncio.gather(single, campaign)
    assert shared.sent == ["tx", "campaign"] and gate.held == 1


async def test_email_messengers_sharing_a_server_pool_share_the_priority() -> None:
    gate = PriorityGate()
    a = SMTPServerPool(SMTPServer(name="email-a", host="h", port=25))
    b = SMTPServerPool(SMTPServer(name="email-b", host="h", port=26))
    everything, only_a = EmailMessenger("email", [a, b]), EmailMessenger("email-a", [a])
    only_b = EmailMessenger("email-b", [b])
    async with gate.priority(only_a):
        assert gate.busy(everything) and gate.busy(only_a) and not gate.busy(only_b)
        assert gate.busy(gate.bulk(everything))
    assert not gate.busy(everything)


def test_the_campaign_engine_gets_every_messenger_behind_the_gate() -> None:
    gate = PriorityGate()
    hook = Blocking("hook")

    class Source:
        def messenger(self, name: str) -> Blocking | None:
            return hook if name == "hook" else None

    gated = GatedMessengers(Source(), gate)
    wrapped = gated.messenger("hook")
    assert isinstance(wrapped, GatedMessenger) and wrapped.inner is hook
    assert gated.messenger("hook") is wrapped and gated.messenger("email") is None


# --- the sender's own e-mails ---------------------------------------------------------------------

def test_the_optin_mail_links_the_lists_to_confirm_as_listmonk_does() -> None:
    settings = default_settings(root_url="https://lists.example.org/")
    ann = Subscriber(ID=7, UUID="s-uuid", Email="ann@example.org", Name="Ann Smith")
    lists = [OptinList(ID=2, UUID="l-2", Name="Weekly <news>", Type="public"),
             OptinList(ID=3, UUID="l-3", Name="Staff only", Type="private")]
    content = render_optin(settings, ann, lists)
    link = "https://lists.example.org/subscription/optin/s-uuid?l=l-2&l=l-3"
    assert optin_url(settings.app_root_url, "s-uuid", ["l-2", "l-3"]) == link
    assert (content.to, content.name, content.subject) == (["ann@example.org"], "Ann Smith",
                                                           "Confirm your subscription")
    assert link.replace("&", "&amp;") in content.body and "Hello Ann," in content.body
    assert "Weekly &lt;news&gt;" in content.body and "Staff only" not in content.body
    unsubscribe = ("https://lists.example.org/subscription/"
                   "00000000-0000-0000-0000-000000000000/s-uuid")
    assert f"{unsubscribe}?manage=true" in content.body
    assert content.headers == [("X-Listmonk-Subscriber", "s-uuid"),
                               ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                               ("List-Unsubscribe", f"<{unsubscribe}>")]
    quiet = msgspec.structs.replace(settings, privacy_unsubscribe_header=False)
    assert render_optin(quiet, ann, lists).headers == [("X-Listmonk-Subscriber", "s-uuid")]


def test_a_notification_names_the_campaign_its_counts_and_the_reason() -> None:
    settings = msgspec.structs.replace(default_settings(), app_notify_emails=[
        " ops@example.org", "OPS@example.org", "", "boss@example.org"])
    assert notify_addresses(settings) == ["ops@example.org", "boss@example.org"]
    dot = StatusDot(ID=4, Name="Spring & co", Status="paused", Sent=3, ToSend=9,
                    Reason="Too many errors", URL="https://x/admin/campaigns/4")
    content = render_status(settings, dot, "ops@example.org")
    assert content.subject == "Campaign paused: Spring & co"
    assert "Spring &amp; co" in content.body and "3 of 9" in content.body
    assert "Too many errors" in content.body
    done = render_status(settings, replace(dot, Status="finished", Reason=""),
                         "ops@example.org")
    assert done.subject == "Campaign finished: Spring & co" and "Why" not in done.body
