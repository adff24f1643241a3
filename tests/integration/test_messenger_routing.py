"""Messengers built from the settings, against real SMTP and HTTP servers in the test process:
``email`` spreads over every enabled server, ``from_addresses`` route, a named server is a
messenger of its own, postbacks by name, rate limits, and settings changes that drop nothing
in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from events.settings import PostbackMessenger, SMTPServer
from services.sender.messengers.inflight import MessengerClosed
from services.sender.messengers.postback import HTTPPostback
from services.sender.messengers.registry import (
    Messengers,
    RateLimits,
    UnknownMessenger,
    messenger_name,
)
from services.sender.messengers.smtp import EmailMessenger
from tests.integration.http_support import start_http_server
from tests.integration.smtp_support import (
    Recorder,
    SMTPTestServer,
    outgoing,
    start_smtp_server,
)


@pytest.fixture
async def messengers() -> AsyncIterator[Messengers]:
    registry = Messengers(postback_retry_delay=0.01)
    yield registry
    await registry.close()


async def test_names_follow_listmonk(messengers: Messengers) -> None:
    async with start_smtp_server() as a, start_smtp_server() as b, \
            start_smtp_server() as off, start_http_server() as (url, _):
        messengers.apply(
            [a.settings(name="email-primary"), b.settings(name="bulk"),
             off.settings(name="email-off", enabled=False), a.settings(port=a.port, uuid="x")],
            [PostbackMessenger(name="hook", root_url=url),
             PostbackMessenger(name="quiet", root_url=url, enabled=False),
             PostbackMessenger(name="email", root_url=url)])  # a taken name is skipped

        assert messengers.names() == ["email", "email-primary", "email-bulk", "hook"]
        assert isinstance(messengers.get("hook"), HTTPPostback)
        email = messengers.get("email")
        assert isinstance(email, EmailMessenger) and len(email.servers) == 3
        with pytest.raises(UnknownMessenger):
            messengers.get("email-off")
        await messengers.close()


def test_server_messenger_names() -> None:
    server = SMTPTestServer(25, Recorder())
    assert messenger_name(server.settings(name="")) == ""
    assert messenger_name(server.settings(name="email-eu")) == "email-eu"
    assert messenger_name(server.settings(name="eu")) == "email-eu"


async def test_no_enabled_server_means_no_email_messenger(messengers: Messengers) -> None:
    async with start_smtp_server() as a:
        messengers.apply([a.settings(enabled=False)], [])
        assert messengers.names() == []
        assert "email" not in messengers


async def test_email_spreads_messages_over_every_server_at_random(
        messengers: Messengers) -> None:
    async with start_smtp_server() as a, start_smtp_server() as b:
        messengers.apply([a.settings(), b.settings()], [])
        results = await asyncio.gather(*(messengers.send("email", outgoing(f"r{i}@example.org"))
                                         for i in range(40)))

        assert all(r.delivered for r in results)
        counts = (len(a.recorder.messages), len(b.recorder.messages))
        assert sum(counts) == 40
        assert min(counts) > 0  # all on one server: chance 2 in 2**40


async def test_from_addresses_route_by_address_then_domain(messengers: Messengers) -> None:
    async with start_smtp_server() as a, start_smtp_server() as b, start_smtp_server() as c:
        messengers.apply([a.settings(from_addresses=["News@Example.com"]),
                          b.settings(from_addresses=["example.org"]),
                          c.settings()], [])
        email = messengers.get("email")
        assert isinstance(email, EmailMessenger)
        by_address = [await email.send(outgoing(from_email="The News <NEWS@example.com>"))
                      for _ in range(5)]
        by_domain = [await email.send(outgoing(from_email="alerts@example.org"))
                     for _ in range(5)]
        unrouted = email.candidates("someone@elsewhere.net")

        assert all(r.delivered for r in by_address + by_domain)
        assert len(a.recorder.messages) == 5 and len(b.recorder.messages) == 5
        assert c.recorder.messages == []
        assert len(unrouted) == 3  # no match: any server, as listmonk does
        # other addresses of a routed server's domain are not routed by its address entry
        assert len(email.candidates("other@example.com")) == 3


async def test_a_named_server_is_a_messenger_of_its_own(messengers: Messengers) -> None:
    async with start_smtp_server() as a, start_smtp_server() as b:
        messengers.apply([a.settings(name="email-a"), b.settings(name="email-b")], [])
        results = [await messengers.send("email-b", outgoing()) for _ in range(5)]

        assert all(r.delivered for r in results)
        assert (len(a.recorder.messages), len(b.recorder.messages)) == (0, 5)
        # email and email-b share b's pool: one connection for both
        assert (await messengers.send("email", outgoing())).delivered
        assert b.recorder.connections == 1 and a.recorder.connections <= 1


async def test_postbacks_are_messengers_by_name(messengers: Messengers) -> None:
    async with start_http_server() as (url, server):
        messengers.apply([], [PostbackMessenger(name="hook", root_url=url)])
        result = await messengers.send("hook", outgoing())
        assert result.delivered
        assert len(server.requests) == 1


async def test_rate_limits_per_messenger_and_per_server() -> None:
    async with start_smtp_server() as a:
        server = a.settings(name="email-a", uuid="srv-a")
        registry = Messengers(rates=RateLimits(messengers={"email-a": 20.0},
                                               servers={"srv-a": 20.0}))
        try:
            registry.apply([server], [])
            started = time.monotonic()
            results = [await registry.send("email-a", outgoing()) for _ in range(5)]
            elapsed = time.monotonic() - started
        finally:
            await registry.close()

        assert all(r.delivered for r in results)
        assert elapsed >= 4 / 20 - 0.01  # five messages at 20/s: four gaps of 50 ms


async def test_new_settings_do_not_drop_messages_in_flight(messengers: Messengers) -> None:
    async with start_smtp_server() as old, start_smtp_server() as new:
        old.recorder.gate = asyncio.Event()
        messengers.apply([old.settings(name="email-old")], [])
        before = messengers.get("email")
        in_flight = asyncio.create_task(messengers.send("email", outgoing("first@example.org")))
        await old.recorder.wait_for(lambda: old.recorder.in_data == 1)

        messengers.apply([new.settings(name="email-new")], [])
        after = await messengers.send("email", outgoing("second@example.org"))
        old.recorder.gate.set()
        first = await in_flight
        await messengers.retired()

        assert first.delivered and after.delivered
        assert [m.rcpt_tos for m in old.recorder.messages] == [["first@example.org"]]
        assert [m.rcpt_tos for m in new.recorder.messages] == [["second@example.org"]]
        assert messengers.names() == ["email", "email-new"]
        await old.recorder.wait_for(lambda: old.recorder.open_connections == 0)
        with pytest.raises(MessengerClosed):
            await before.send(outgoing())


async def test_an_unchanged_server_keeps_its_connections(messengers: Messengers) -> None:
    async with start_smtp_server() as a, start_smtp_server() as b:
        messengers.apply([a.settings(name="email-a")], [])
        assert (await messengers.send("email-a", outgoing())).delivered
        messengers.apply([a.settings(name="email-a"), b.settings(name="email-b")], [])
        assert (await messengers.send("email-a", outgoing())).delivered
        await messengers.retired()

        assert a.recorder.connections == 1
        assert a.recorder.open_connections == 1


def test_the_settings_give_each_server_and_postback_its_rate() -> None:
    """``message_rate`` (postlog's own setting, 0 = no limit) limits a server or postback
    messenger; a rate given to the registry overrides it."""
    server = SMTPServer(name="email-a", uuid="srv-a", host="h", message_rate=5.0)
    postback = PostbackMessenger(name="hook", root_url="http://h", message_rate=2.5)
    assert RateLimits().for_server(server) == 5.0
    assert RateLimits().for_postback(postback) == 2.5
    assert RateLimits().for_server(SMTPServer(host="h")) == 0.0
    overridden = RateLimits(messengers={"hook": 9.0}, servers={"srv-a": 7.0})
    assert (overridden.for_server(server), overridden.for_postback(postback)) == (7.0, 9.0)
