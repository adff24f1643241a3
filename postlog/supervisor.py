"""Runs the background services of a process (relay, projector, scheduler, sender) as supervised
tasks, and extra sender processes as supervised children (``SenderProcesses``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import structlog

from events.relay import Relay
from kernel.settings import Settings
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


# --- several sender processes ---------------------------------------------------------------

RESTART_DELAY_SECONDS = 1.0
RESTART_DELAY_MAX_SECONDS = 30.0
STOP_GRACE_SECONDS = 30.0
_HEALTHY_RUN_SECONDS = 60.0  # a child that ran this long restarts at once when it dies


def default_processes() -> int:
    """One sender process per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def sender_command() -> list[str]:
    """The command of one sender child: ``postlog serve sender --processes 1``."""
    return [sys.executable, "-m", "postlog.cli", "serve", "sender", "--processes", "1"]


def _child_env(settings: Settings) -> dict[str, str]:
    """The environment of a child: this one's, with the URLs this process resolved (a
    ``postlog up`` passes its embedded servers' URLs)."""
    env = dict(os.environ)
    if settings.database_url:
        env["POSTLOG_DATABASE_URL"] = settings.database_url
    if settings.nats_url:
        env["POSTLOG_NATS_URL"] = settings.nats_url
    return env


class SenderProcesses:
    """``count`` sender child processes, supervised: a child that exits while the group runs
    is started again (after a delay doubling up to 30 s while it keeps failing at once); on
    stop each child gets SIGTERM (its graceful stop: in-flight messages finish and are
    recorded), then SIGKILL after ``STOP_GRACE_SECONDS``. Children get SIGTERM from the kernel
    when this process dies, even by SIGKILL, so none outlives it. They share campaigns
    through the chunk claims in PostgreSQL like any sender processes (docs/sender.md)."""

    def __init__(self, settings: Settings, count: int, *, command: Sequence[str] | None = None,
                 stdout: int | None = asyncio.subprocess.DEVNULL) -> None:
        self.count = count
        self.command = list(command or sender_command())
        self.env = _child_env(settings)
        self.stdout = stdout
        self.children: dict[int, asyncio.subprocess.Process] = {}
        self.restarts = 0

    def pids(self) -> list[int]:
        return [proc.pid for proc in self.children.values() if proc.returncode is None]

    async def _spawn(self, index: int) -> asyncio.subprocess.Process:
        from postlog.embedded import _die_with_parent as die_with_parent

        proc = await asyncio.create_subprocess_exec(
            *self.command, env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=self.stdout,
            # A process group of its own: a terminal's Ctrl-C reaches this process only, which
            # stops the child once (a second signal would make the child exit at once).
            preexec_fn=_own_group(die_with_parent(signal.SIGTERM)))
        self.children[index] = proc
        log.info("sender_process_started", index=index, pid=proc.pid)
        return proc

    async def _keep(self, index: int, stop: asyncio.Event) -> None:
        delay = RESTART_DELAY_SECONDS
        while not stop.is_set():
            began = time.monotonic()
            proc = await self._spawn(index)
            waiter = asyncio.create_task(proc.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not waiter.done():
                await _terminate(proc, waiter)
                return
            if stop.is_set():
                return
            if time.monotonic() - began >= _HEALTHY_RUN_SECONDS:
                delay = RESTART_DELAY_SECONDS
            log.error("sender_process_exited", index=index, pid=proc.pid,
                      code=proc.returncode, restart_in=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, RESTART_DELAY_MAX_SECONDS)
            self.restarts += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Keep ``count`` children running until ``stop``; then stop them all."""
        await asyncio.gather(*(self._keep(i, stop) for i in range(self.count)))


def _own_group(then: Callable[[], None]) -> Callable[[], None]:
    """A ``preexec_fn``: a process group of its own, then ``then`` (uvloop's subprocesses
    take no ``process_group``)."""

    def preexec() -> None:
        os.setpgid(0, 0)
        then()

    return preexec


async def _terminate(proc: asyncio.subprocess.Process, waiter: asyncio.Task[int]) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(waiter), STOP_GRACE_SECONDS)
    except TimeoutError:
        log.warning("sender_process_killed", pid=proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await waiter


@asynccontextmanager
async def sender_children(settings: Settings, count: int, **options: Any,
                           ) -> AsyncIterator[list[asyncio.Task[None]]]:
    """``count`` supervised sender children (none when ``count`` < 1) for as long as the
    block runs; a task that ends only when they are stopped."""
    if count < 1:
        yield []
        return
    stop = asyncio.Event()
    group = SenderProcesses(settings, count, **options)
    task = asyncio.create_task(group.run(stop), name="sender-processes")
    try:
        yield [task]
    finally:
        stop.set()
        await asyncio.wait([task])
