"""A postlog of its own with sender engines in the test's event loop, a recording messenger,
and the HTTP steps the sender tests share.

The sender works on every running campaign of its database, so its tests run on a database
and NATS prefix of their own (``sender_stack``): the relay, the projector and both APIs, plus
as many ``SenderEngine`` as a test starts (each with its own holder name, as separate
processes would have). ``RecordingMessenger`` records every attempt and answers as a test
scripts it: per address, refuse for good or for now, or hold sends until let through.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from events.settings import AppSettings, default_settings
from kernel.nats import connect, ensure_stream
from kernel.settings import Settings
from postlog.app import create_app
from postlog.migrate import migrate
from postlog.supervisor import background_services
from projections.registry import ensure_read_models
from services.command_api.campaigns.sending import finish_sent, pause_sending
from services.command_api.templates.seed import ensure_default_templates
from services.runtime import Runtime, open_runtime
from services.sender.campaign_listener import campaign_listener
from services.sender.config import SenderTuning
from services.sender.engine import SenderEngine
from services.sender.messengers.base import DeliveryResult, Messenger, OutgoingMessage
from tests import servers

ROOT_URL = "http://news.example.org"
FAST = SenderTuning(lease_seconds=2.0, poll_seconds=0.2, flush_every=20, flush_seconds=0.2,
                    retry_attempts=3, retry_backoff_seconds=0.05, chunk_size=25,
                    feed_batch=10)


def sender_settings(**changes: Any) -> AppSettings:
    """listmonk's defaults with fast rates for tests, and ``changes`` (attribute names)."""
    base = default_settings(root_url=ROOT_URL)
    values: dict[str, Any] = {"app_concurrency": 4, "app_message_rate": 100000,
                              "app_max_send_errors": 1000}
    values.update(changes)
    return msgspec.structs.replace(base, **values)


@dataclass
class Attempt:
    message: OutgoingMessage
    result: DeliveryResult | None = None


@dataclass
class RecordingMessenger:
    """A messenger that records every message handed to it."""

    name: str = "email"
    attempts: list[Attempt] = field(default_factory=list)
    refuse: dict[str, DeliveryResult] = field(default_factory=dict)  # address -> always
    once: dict[str, list[DeliveryResult]] = field(default_factory=dict)  # address -> in turn
    refuse_all: DeliveryResult | None = None
    budget: int | None = None  # sends let through before the next ones wait (None: all)
    entered: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        attempt = Attempt(message)
        self.attempts.append(attempt)
        self.entered += 1
        self.changed.set()
        while self.budget is not None and self.budget <= 0:
            await self._changed()
        if self.budget is not None:
            self.budget -= 1
        address = message.content.to[0]
        result = DeliveryResult.ok()
        if self.once.get(address):
            result = self.once[address].pop(0)
        elif address in self.refuse:
            result = self.refuse[address]
        elif self.refuse_all is not None:
            result = self.refuse_all
        attempt.result = result
        self.changed.set()
        return result

    async def _changed(self) -> None:
        self.changed.clear()
        await self.changed.wait()

    def allow(self, count: int | None) -> None:
        """Let ``count`` more sends through (None: every send from now on)."""
        self.budget = None if count is None else (self.budget or 0) + count
        self.changed.set()

    async def close(self) -> None:
        return None

    def delivered_to(self, campaign_uuid: str) -> Counter[str]:
        """How many times each address got the campaign (delivered attempts only)."""
        return Counter(a.message.content.to[0] for a in self.attempts
                       if a.result is not None and a.result.delivered
                       and a.message.campaign is not None
                       and a.message.campaign.uuid == campaign_uuid)

    async def wait_for(self, condition: Callable[[], bool], within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while not condition():
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the messenger never reached the expected state"
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)


class Messengers:
    """``MessengerSource`` of the recording messengers by name."""

    def __init__(self, *messengers: RecordingMessenger) -> None:
        self.by_name = {m.name: m for m in messengers}

    def messenger(self, name: str) -> Messenger | None:
        return self.by_name.get(name)


@dataclass
class SenderStack:
    app: Litestar
    runtime: Runtime
    settings: Settings

    def client(self) -> httpx.AsyncClient:
        assert self.settings.admin_user and self.settings.admin_password
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://testserver",
            auth=httpx.BasicAuth(self.settings.admin_user, self.settings.admin_password),
            timeout=60)

    async def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        async with self.runtime.pool.connection() as conn:
            cur = await conn.execute(query, params or None)
            return list(await cur.fetchall())

    async def execute(self, statement: str, *params: Any) -> None:
        async with self.runtime.pool.connection() as conn:
            await conn.execute(statement, params or None)

    @asynccontextmanager
    async def sender(self, messenger: RecordingMessenger, *,
                     settings: AppSettings | None = None, tuning: SenderTuning = FAST,
                     listen: bool = True) -> AsyncIterator[SenderEngine]:
        """A sender engine (a process of its own, as far as leases go) until the block ends."""
        current = settings or sender_settings()
        pool = self.runtime.pool
        engine = SenderEngine(pool, settings=lambda: current, messengers=Messengers(messenger),
                              finish=partial(finish_sent, pool),
                              pause=partial(pause_sending, pool), tuning=tuning,
                              holder=f"test-{uuid.uuid4().hex[:6]}")
        stop = asyncio.Event()
        task = asyncio.create_task(engine.run(stop))

        async def heard(campaign_id: int, event_type: str) -> None:
            await engine.on_campaign_event(campaign_id, event_type)

        try:
            if listen:
                async with campaign_listener(self.settings, heard):
                    yield engine
            else:
                yield engine
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


@asynccontextmanager
async def sender_stack(admin_pg_url: str, settings: Settings) -> AsyncIterator[SenderStack]:
    """Both APIs, the relay and the projector on a fresh database and NATS prefix."""
    url = servers.create_database(admin_pg_url)
    await migrate(url)
    own = settings.model_copy(update={
        "database_url": url, "nats_prefix": servers.sub_prefix(settings.nats_prefix),
        "root_url": ROOT_URL})
    nc = await connect(own, "sender-tests")
    await ensure_stream(nc.jetstream(), own)
    await ensure_read_models(own)
    try:
        async with (open_runtime(own) as runtime,
                    background_services(runtime, ("relay", "projector"))):
            await ensure_default_templates(runtime.pool)
            app = create_app(runtime)
            async with AsyncTestClient(app):
                yield SenderStack(app, runtime, own)
    finally:
        try:
            await nc.jetstream().delete_stream(own.stream_name)
        finally:
            await nc.close()
            servers.drop_database(admin_pg_url, url)


# --- HTTP steps ---------------------------------------------------------------------------------


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll ``check`` (an API read) until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"condition not reached within {within}s"
        await asyncio.sleep(0.05)


async def until(condition: Callable[[], bool], within: float = 30.0) -> None:
    """Let the event loop run until ``condition()`` (in-process state) holds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"condition not reached within {within}s"
        await asyncio.sleep(0.01)


async def make_list(api: httpx.AsyncClient, optin: str = "single") -> int:
    response = await api.post("/api/lists", json={
        "name": f"list {uuid.uuid4().hex[:6]}", "type": "private", "optin": optin})
    assert response.status_code == 200, response.text
    return int(response.json()["data"]["id"])


async def subscribe(api: httpx.AsyncClient, lists: list[int], name: str = "Ann Smith",
                    **fields: Any) -> dict[str, Any]:
    body = {"email": f"{name.split()[0].lower()}.{uuid.uuid4().hex[:8]}@example.com",
            "name": name, "lists": lists, **fields}
    response = await api.post("/api/subscribers", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def import_subscribers(api: httpx.AsyncClient, list_id: int, count: int) -> None:
    """``count`` confirmed subscribers of ``list_id``, through the import API."""
    lines = ["email,name"] + [f"bulk{n}.{uuid.uuid4().hex[:6]}@example.com,Bulk {n}"
                              for n in range(count)]
    response = await api.post(
        "/api/import/subscribers",
        files={"file": ("subs.csv", ("\n".join(lines) + "\n").encode(), "text/csv")},
        data={"params": msgspec.json.encode({"mode": "subscribe", "delim": ",",
                                             "subscription_status": "confirmed",
                                             "lists": [list_id]}).decode()})
    assert response.status_code == 200, response.text

    async def done() -> bool:
        status = (await api.get("/api/import/subscribers")).json()["data"]
        return bool(status["status"] not in ("importing", "stopping"))

    await eventually(done, within=120)


async def create_campaign(api: httpx.AsyncClient, lists: list[int], **fields: Any
                          ) -> dict[str, Any]:
    body = {"name": "Sender test", "subject": "Hello {{ .Subscriber.FirstName }}",
            "lists": lists, "from_email": "News <news@example.org>",
            "body": "<p>Dear {{ .Subscriber.Name }} from {{ .Subscriber.Attribs.city }}</p>",
            **fields}
    response = await api.post("/api/campaigns", json=body)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def set_status(api: httpx.AsyncClient, campaign_id: int, status: str) -> dict[str, Any]:
    response = await api.put(f"/api/campaigns/{campaign_id}/status", json={"status": status})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def campaign(api: httpx.AsyncClient, campaign_id: int) -> dict[str, Any]:
    response = await api.get(f"/api/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def until_status(api: httpx.AsyncClient, campaign_id: int, status: str,
                       within: float = 60.0) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await campaign(api, campaign_id))
        return bool(seen["status"] == status)

    await eventually(reached, within)
    return seen


async def deliveries(api: httpx.AsyncClient, campaign_id: int, **params: Any
                     ) -> dict[str, Any]:
    response = await api.get(f"/api/campaigns/{campaign_id}/deliveries",
                             params={"per_page": "all", **params})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data
