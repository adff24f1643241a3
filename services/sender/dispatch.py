"""The process's message workers: ``app.concurrency`` of them, each at ``app.message_rate``,
all under the shared sliding window (``app.message_sliding_window*``).

Chunk holders (``chunk_run.ChunkRun``) ``submit`` jobs, one per recipient; the bounded queue
makes a holder wait while the workers are busy, so recipients are read from the database only
as fast as they are sent. A worker takes a job, waits for its rate and the window, asks the
job's owner to deliver it (render and hand to the messenger) and gives the result back. A job
whose owner stopped (pause, cancel, lost lease) is dropped unsent, so after a pause only the
messages already in a worker's hands go out: the in-flight window is ``app.concurrency``.

The settings are read live: the worker count and the limiters follow ``app.concurrency``,
``app.message_rate`` and the window as soon as they change.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Protocol

import structlog

from events.settings import AppSettings
from services.sender.config import SettingsSource
from services.sender.messengers.base import DeliveryResult
from services.sender.messengers.ratelimit import (
    Limiter,
    sliding_window_from_settings,
    worker_limiter,
)
from services.sender.recipients import RecipientRow

log = structlog.get_logger(__name__)

RESIZE_SECONDS = 1.0


class JobOwner(Protocol):
    """Who submitted a job: a chunk holder."""

    @property
    def stopping(self) -> bool: ...

    def dropped(self, job: Job) -> None:
        """The job was not sent (its owner stopped before a worker got to it)."""
        ...

    async def deliver(self, job: Job) -> DeliveryResult:
        """Render and send the job's message (never raises for a delivery problem)."""
        ...

    def settle(self, job: Job, result: DeliveryResult) -> None:
        """The outcome of a sent job."""
        ...


@dataclass(frozen=True)
class Job:
    """One message to one recipient; ``attempt`` counts from 1."""

    owner: JobOwner
    recipient: RecipientRow
    attempt: int = 1


def _window_key(s: AppSettings) -> tuple[bool, str, int]:
    return (s.app_message_sliding_window, s.app_message_sliding_window_duration,
            s.app_message_sliding_window_rate)


class Dispatcher:
    """The worker pool of one sender process."""

    def __init__(self, settings: SettingsSource) -> None:
        self._settings = settings
        first = settings()
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=max(1, first.app_concurrency))
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._window_key = _window_key(first)
        self._window: Limiter = sliding_window_from_settings(first)
        self._resizer: asyncio.Task[None] | None = None
        self.in_flight = 0

    def start(self) -> None:
        self._resize()
        self._resizer = asyncio.create_task(self._keep_sized(), name="sender-workers")

    async def submit(self, job: Job) -> None:
        """Queue ``job``, waiting while the queue is full."""
        await self._queue.put(job)

    async def close(self) -> None:
        """Stop the workers (jobs still queued are dropped: their owners stopped first)."""
        tasks = [t for t in (self._resizer, *self._workers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        while not self._queue.empty():
            job = self._queue.get_nowait()
            job.owner.dropped(job)

    def _resize(self) -> None:
        settings = self._settings()
        wanted = max(1, settings.app_concurrency)
        for index in range(wanted):
            worker = self._workers.get(index)
            if worker is None or worker.done():
                self._workers[index] = asyncio.create_task(self._work(index),
                                                           name=f"sender-worker-{index}")
        key = _window_key(settings)
        if key != self._window_key:
            self._window_key, self._window = key, sliding_window_from_settings(settings)

    async def _keep_sized(self) -> None:
        while True:
            await asyncio.sleep(RESIZE_SECONDS)
            self._resize()

    async def _work(self, index: int) -> None:
        rate = self._settings().app_message_rate
        limiter = worker_limiter(self._settings())
        while True:
            settings = self._settings()
            if index >= max(1, settings.app_concurrency):
                return  # fewer workers wanted now
            if settings.app_message_rate != rate:
                rate, limiter = settings.app_message_rate, worker_limiter(settings)
            job = await self._queue.get()
            if job.owner.stopping:
                job.owner.dropped(job)
                continue
            await limiter.acquire()
            await self._window.acquire()
            if job.owner.stopping:  # stopped while this worker waited for its turn
                job.owner.dropped(job)
                continue
            self.in_flight += 1
            try:
                result = await job.owner.deliver(job)
            finally:
                self.in_flight -= 1
            job.owner.settle(job, result)
