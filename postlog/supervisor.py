"""Runs the background services of a process (relay, projector, scheduler, sender) as supervised
tasks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Literal

import structlog

from events.relay import Relay
from projections.registry import all_projections
from projections.runner import ProjectionRunner
from services.runtime import Runtime

if TYPE_CHECKING:
    from services.sender.bounce_mailbox import MailboxScanner

log = structlog.get_logger(__name__)

Component = Literal["relay", "projector", "scheduler", "sender"]
EVERYTHING: tuple[Component, ...] = ("relay", "projector", "scheduler", "sender")


@asynccontextmanager
async def background_services(
    runtime: Runtime, components: Sequence[Component] = ("relay", "projector", "scheduler")
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Start the components; on exit, ask them to stop and wait for them."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    if "relay" in components:
        relay = Relay(runtime.settings, runtime.pool, runtime.metrics)
        tasks.append(asyncio.create_task(relay.run(stop), name="relay"))
    if "projector" in components:
        runner = ProjectionRunner(
            runtime.settings, runtime.pool, all_projections(runtime.settings), runtime.metrics
        )
        tasks.append(asyncio.create_task(runner.run(stop), name="projector"))
    if "scheduler" in components:
        from services.command_api.campaigns.scheduled import start_scheduled
        from services.sender.scheduler import CampaignScheduler

        start = partial(start_scheduled, runtime.pool, metrics=runtime.metrics,
                        live=runtime.live_settings)
        scheduler = CampaignScheduler(runtime.pool, start, runtime.settings.scheduler_interval)
        tasks.append(asyncio.create_task(scheduler.run(stop), name="scheduler"))
    async with AsyncExitStack() as stack:
        if "sender" in components:
            tasks.extend(await stack.enter_async_context(_sender(runtime)))
            tasks.append(asyncio.create_task(_bounce_scanner(runtime).run(stop),
                                             name="bounce_mailbox"))
        try:
            yield tasks
        finally:
            stop.set()
            await stack.aclose()  # the sender finishes its in-flight messages first
            await _wait(tasks)


def _sender(runtime: Runtime) -> AbstractAsyncContextManager[list[asyncio.Task[None]]]:
    """The sender, given the campaign commands it runs (finish, pause) by this root."""
    from services.command_api.campaigns.sending import finish_sent, pause_sending
    from services.sender.service import sender_service

    return sender_service(
        runtime, finish=partial(finish_sent, runtime.pool, metrics=runtime.metrics),
        pause=partial(pause_sending, runtime.pool, metrics=runtime.metrics))


def _bounce_scanner(runtime: Runtime) -> MailboxScanner:
    """The bounce mailbox scanner (``bounce.mailboxes``; idle while bounces or every mailbox
    are off), recording through the command side's bounce intake (``postlog.bounce_wiring``).
    Every sender process runs one; an advisory lock lets one scan at a time."""
    from postlog.bounce_wiring import mailbox_recorder
    from services.sender.bounce_mailbox import MailboxScanner

    return MailboxScanner(runtime.pool, runtime.live_settings.get,
                          mailbox_recorder(runtime.pool, runtime.settings))


async def _wait(tasks: list[asyncio.Task[None]]) -> None:
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=10)
    for task in pending:
        task.cancel()
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("background_service_failed", task=task.get_name(),
                      error=repr(task.exception()))
