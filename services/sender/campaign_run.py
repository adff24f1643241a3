"""One campaign being sent by this process: claim chunks, run them, finish the campaign.

A ``CampaignRun`` reads the campaign's plan from its stream, compiles it once, and claims
chunks (``leases.ChunkLeases.claim``) while the campaign is sendable: up to
``chunks_in_parallel`` at a time, the next one as soon as the previous one has submitted its
last recipient. When no chunk is left to claim and every chunk is done, it finishes the
campaign through the campaign's command (``finish``), which refuses if the campaign is no
longer running (paused meanwhile): a campaign is finished only when every recipient was
delivered or recorded as failed. Every ``poll_seconds`` it re-reads the plan: a pause or a
cancel seen there (or announced sooner through ``stop()`` by the engine) stops the chunks.

Failures recorded since the campaign's last start are counted across processes (in the lease
table); reaching ``app.max_send_errors`` pauses the campaign through the campaign's command,
with the reason recorded in ``campaign.paused``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from psycopg_pool import AsyncConnectionPool

from gotemplate import TemplateError
from services.sender.campaign_media import MediaUnavailable, load_attachments, with_attachments
from services.sender.campaign_message import prepare_campaign
from services.sender.campaign_plan import CampaignPlan, list_optins, load_plan, template_body
from services.sender.chunk_run import DB_ERRORS, ChunkRun, Sending
from services.sender.config import SenderTuning, SettingsSource
from services.sender.dispatch import Dispatcher
from services.sender.leases import ChunkLeases, HeldChunk
from services.sender.messengers.base import DeliveryResult, Messenger, OutgoingMessage
from services.sender.planning import Complete
from services.sender.recipients import Audience
from services.sender.templating.funcs_listmonk import campaign_link_urls
from services.tracking.links import register_links

log = structlog.get_logger(__name__)

PROGRESS_LOG_SECONDS = 10.0

FinishCampaign = Callable[[int], Awaitable[bool]]
"""Finish a running campaign (the campaign command); False if it refused (not running)."""
PauseCampaign = Callable[[int, str], Awaitable[bool]]
"""Pause a running campaign with a reason (the campaign command); False if it refused."""


class MessengerSource(Protocol):
    """The messengers this process can send through, by listmonk's names (``email``,
    ``email-<server>``, a postback messenger's name); None for one not enabled."""

    def messenger(self, name: str) -> Messenger | None: ...


@dataclass
class SenderDeps:
    """What every campaign run of a process shares."""

    pool: AsyncConnectionPool[Any]
    leases: ChunkLeases
    dispatcher: Dispatcher
    settings: SettingsSource
    messengers: MessengerSource
    tuning: SenderTuning
    finish: FinishCampaign
    pause: PauseCampaign


class _LiveMessenger:
    """The campaign's messenger looked up for each message, so a settings change (a server
    replaced, a messenger disabled) applies to the next message."""

    def __init__(self, source: MessengerSource, name: str) -> None:
        self.source = source
        self.name = name

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        messenger = self.source.messenger(self.name)
        if messenger is None:
            return DeliveryResult.retry_later(0, f"messenger {self.name} is not enabled")
        return await messenger.send(message)

    async def close(self) -> None:
        return None


class CampaignRun:
    """Sends one campaign from this process until it is done, paused or stopped."""

    def __init__(self, campaign_id: int, deps: SenderDeps) -> None:
        self.campaign_id = campaign_id
        self.deps = deps
        self.plan: CampaignPlan | None = None
        self.chunks: dict[int, tuple[ChunkRun, asyncio.Task[str]]] = {}
        self.delivered = 0
        self._stopping = False
        self._changed = asyncio.Event()
        self._pausing: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Stop claiming; chunks finish what is in flight, record it and let go."""
        self._stopping = True
        for chunk, _ in self.chunks.values():
            chunk.stop()
        self._changed.set()

    def wake(self) -> None:
        """Look for a chunk to claim now rather than at the next poll."""
        self._changed.set()

    async def run(self) -> None:
        try:
            sending = await self._prepare()
            if sending is None:
                return
            assert self.plan is not None
            await self.deps.leases.open_run(self.campaign_id, self.plan.launch_version)
            if self.plan.retry_round:  # asked for before this run: applied once, by anyone
                await self.deps.leases.apply_retry_round(self.campaign_id, self.plan.retry_round)
            watcher = asyncio.create_task(self._watch(), name=f"campaign-{self.campaign_id}")
            try:
                await self._claim_until_done(sending)
            finally:
                watcher.cancel()
                self.stop()
                await self._wait_chunks()
        except DB_ERRORS as exc:
            log.warning("campaign_run_interrupted", campaign_id=self.campaign_id, error=str(exc))

    async def _prepare(self) -> Sending | None:
        async with self.deps.pool.connection() as conn:
            plan = self.plan = await load_plan(conn, self.campaign_id)
        if plan is None or not plan.sendable:
            return None
        if plan.retry_round and not plan.running:
            await self.deps.leases.apply_retry_round(self.campaign_id, plan.retry_round)
        if not plan.running and not await self.deps.leases.has_reopened(self.campaign_id):
            return None  # finished, and no retry round left to send
        async with self.deps.pool.connection() as conn:
            body = await template_body(conn, plan.template_id)
            optins = await list_optins(conn, plan.list_ids)
        if self.deps.messengers.messenger(plan.messenger) is None:
            await self._pause(f"Unknown messenger {plan.messenger}: no enabled SMTP server or"
                              " messenger has that name")
            return None
        settings = self.deps.settings()
        links: dict[str, str] = {}
        if not settings.privacy_disable_tracking:  # tracked URLs exist before any message
            content = plan.content
            links = await register_links(self.deps.pool, campaign_link_urls(
                content.body, content.content_type, body, content.altbody, content.headers))
        try:
            prepared = prepare_campaign(plan, body, settings, link_uuid=links.get)
        except TemplateError as exc:
            await self._pause(f"Error compiling template: {exc}")
            return None
        try:  # the campaign's media, fetched once for every message of this run
            prepared = with_attachments(prepared, await load_attachments(
                self.deps.pool, plan.content.media, self.deps.settings()))
        except MediaUnavailable as exc:
            await self._pause(str(exc))
            return None
        return Sending(prepared=prepared,
                       messenger=_LiveMessenger(self.deps.messengers, plan.messenger),
                       audience=Audience(optins, plan.campaign_type),
                       errors_recorded=self._errors_recorded)

    async def _claim_until_done(self, sending: Sending) -> None:
        tuning = self.deps.tuning
        while not self._stopping:
            self._changed.clear()
            if len(self.chunks) < tuning.chunks_in_parallel and not any(
                    chunk.feeding for chunk, _ in self.chunks.values()):
                assert self.plan is not None
                try:
                    claimed = await self.deps.leases.claim(
                        self.plan, sending.audience, tuning.chunk_size_for(self.deps.settings()))
                except DB_ERRORS as exc:
                    log.warning("chunk_claim_failed", campaign_id=self.campaign_id,
                                error=str(exc))
                    claimed = None
                if isinstance(claimed, HeldChunk) and not self._stopping:
                    self._start_chunk(claimed, sending)
                    continue
                if isinstance(claimed, Complete) and not self.chunks:
                    await self._complete()
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), tuning.poll_seconds)

    def _start_chunk(self, held: HeldChunk, sending: Sending) -> None:
        chunk = ChunkRun(held, sending, leases=self.deps.leases,
                         dispatcher=self.deps.dispatcher, pool=self.deps.pool,
                         tuning=self.deps.tuning)
        task = asyncio.create_task(chunk.run(), name=f"chunk-{self.campaign_id}-{held.chunk}")
        self.chunks[held.chunk] = (chunk, task)

        def ended(done: asyncio.Task[str]) -> None:
            self.chunks.pop(held.chunk, None)
            self.delivered += chunk.delivered
            if not done.cancelled() and done.exception() is not None:
                log.error("chunk_run_failed", campaign_id=self.campaign_id, chunk=held.chunk,
                          error=repr(done.exception()))
            self._changed.set()

        task.add_done_callback(ended)

    async def _complete(self) -> None:
        if self._pausing is not None:
            # The last records crossed app.max_send_errors: the pause wins over finishing, so
            # the campaign ends paused with its reason, not finished.
            await asyncio.shield(self._pausing)
            return
        plan = self.plan
        if plan is None or not plan.running:
            log.info("campaign_retry_done", campaign_id=self.campaign_id,
                     retry_round=plan.retry_round if plan else 0)
            return
        if await self.deps.finish(self.campaign_id):
            log.info("campaign_finished", campaign_id=self.campaign_id,
                     to_send=plan.to_send, delivered_here=self.delivered)

    async def _wait_chunks(self) -> None:
        tasks = [task for _, task in self.chunks.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self) -> None:
        """Re-read the plan every ``poll_seconds``: stop on a pause or cancel, apply a retry
        round asked for while running, and log progress now and then."""
        logged = time.monotonic()
        while not self._stopping:
            await asyncio.sleep(self.deps.tuning.poll_seconds)
            try:
                async with self.deps.pool.connection() as conn:
                    plan = await load_plan(conn, self.campaign_id)
            except DB_ERRORS as exc:
                log.warning("campaign_status_unavailable", campaign_id=self.campaign_id,
                            error=str(exc))
                continue
            previous = self.plan
            if plan is None or not plan.sendable or (
                    previous is not None and previous.running and not plan.running):
                log.info("campaign_stopping", campaign_id=self.campaign_id,
                         status=plan.status if plan else "deleted")
                self.stop()
                return
            if plan.retry_round > (previous.retry_round if previous else 0):
                await self.deps.leases.apply_retry_round(self.campaign_id, plan.retry_round)
                self.wake()
            self.plan = plan
            if time.monotonic() - logged >= PROGRESS_LOG_SECONDS:
                logged = time.monotonic()
                log.info("campaign_progress", campaign_id=self.campaign_id,
                         to_send=plan.to_send, chunks=sorted(self.chunks),
                         delivered_here=self.delivered + sum(
                             c.delivered for c, _ in self.chunks.values()),
                         in_flight=self.deps.dispatcher.in_flight)

    def _errors_recorded(self, total: int) -> None:
        limit = self.deps.settings().app_max_send_errors
        if limit < 1 or total < limit or self._pausing is not None:
            return
        if self.plan is None or not self.plan.running:
            return  # a retry round of a finished campaign: nothing to pause
        log.warning("campaign_too_many_errors", campaign_id=self.campaign_id, errors=total,
                    max_send_errors=limit)
        self._pausing = asyncio.create_task(self._pause(
            f"Too many errors: {total} deliveries failed (app.max_send_errors is {limit})"))
        self._pausing.add_done_callback(lambda _: self.stop())

    async def _pause(self, reason: str) -> None:
        if self.plan is None or not self.plan.running:
            return
        log.warning("campaign_pausing", campaign_id=self.campaign_id, reason=reason)
        try:
            await self.deps.pause(self.campaign_id, reason)
        except Exception:
            log.exception("campaign_pause_failed", campaign_id=self.campaign_id)
