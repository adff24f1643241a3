"""Helpers of the single-message delivery tests: a postlog of its own whose SMTP settings point
at an aiosmtpd server in the test's loop, a sender to run beside it, and reading what arrived."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import partial
from typing import Any, cast

import httpx

from events.crypto import master_key_from
from services.command_api.campaigns.sending import finish_sent, pause_sending
from services.sender.message_outcomes import RetryPolicy
from services.sender.messages_run import AfterSend, MessageRunner, MessageTuning
from services.sender.service import live_messengers, sender_service
from tests.integration.sender_support import FAST, eventually
from tests.integration.settings_support import SettingsStack
from tests.integration.smtp_support import SMTPTestServer

MESSAGES = MessageTuning(lease_seconds=1.0, poll_seconds=0.2, workers=4,
                         retry=RetryPolicy(attempts=2, backoff_seconds=0.05),
                         lag_retry_seconds=0.05)
OPTIN_LINK = re.compile(r'href="([^"]*/subscription/optin/[^"]*)"')


@asynccontextmanager
async def running_sender(stack: SettingsStack) -> AsyncIterator[None]:
    """The production sender (campaigns and single messages) over the live settings."""
    pool = stack.runtime.pool
    async with sender_service(stack.runtime, finish=partial(finish_sent, pool),
                              pause=partial(pause_sending, pool), tuning=FAST,
                              messages=MESSAGES):
        yield


@asynccontextmanager
async def message_runner(stack: SettingsStack, holder: str, *, workers: int = 4,
                         after_send: AfterSend | None = None
                         ) -> AsyncIterator[tuple[MessageRunner, Callable[[], Awaitable[None]]]]:
    """A single-message runner alone (a process of its own as far as leases go), and a
    function that kills it as ``kill -9`` would: nothing more is recorded, nothing released."""
    live = stack.runtime.live_settings
    await live.get()
    async with live_messengers(live) as messengers:
        runner = MessageRunner(stack.runtime.pool, holder=holder, settings=live.current,
                               messengers=messengers, tuning=replace(MESSAGES, workers=workers),
                               master_key=master_key_from(stack.settings.master_key),
                               after_send=after_send)
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))

        async def kill() -> None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

        try:
            yield runner, kill
        finally:
            stop.set()
            if not task.done():
                await asyncio.wait_for(task, 30)


def parsed(server: SMTPTestServer, address: str) -> list[EmailMessage]:
    """The messages the server accepted for ``address``, parsed, in arrival order."""
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(m.content) for m in server.recorder.messages
            if address in m.rcpt_tos]


async def arrived(server: SMTPTestServer, address: str, count: int = 1) -> list[EmailMessage]:
    """Wait until ``count`` messages for ``address`` arrived; them, parsed."""
    await server.recorder.wait_for(lambda: len(parsed(server, address)) >= count, within=30)
    return parsed(server, address)


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(("html",))
    assert part is not None
    return str(cast(EmailMessage, part).get_content())


def optin_link(mail: EmailMessage) -> str:
    """The path and query of the opt-in link in an opt-in e-mail."""
    found = OPTIN_LINK.search(html_of(mail))
    assert found, html_of(mail)
    link = html.unescape(found.group(1))
    return link[link.index("/subscription/"):]


def address(tag: str) -> str:
    return f"{tag}.{uuid.uuid4().hex[:8]}@example.com"


async def history(api: httpx.AsyncClient, subscriber_id: int, **params: Any
                  ) -> dict[str, Any]:
    response = await api.get(f"/api/subscribers/{subscriber_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def until_history(api: httpx.AsyncClient, subscriber_id: int,
                        check: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The subscriber's history once ``check`` holds for it."""
    seen: list[dict[str, Any]] = []

    async def holds() -> bool:
        seen[:] = (await history(api, subscriber_id, per_page="all"))["results"]
        return check(seen)

    await eventually(holds)
    return seen


def latest(status: str) -> Callable[[list[dict[str, Any]]], bool]:
    """A check of a history: its newest entry has ``status``."""
    return lambda entries: bool(entries) and entries[0]["status"] == status


async def subscriber(api: httpx.AsyncClient, name: str, lists: list[int] | None = None,
                     **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/subscribers", json={
        "email": address(name.split()[0].lower()), "name": name, "lists": lists or [],
        **fields})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
