"""Single messages ahead of campaign mail: a gate campaign sends wait at while a priority
send (transactional, campaign test, opt-in, admin notification) is under way on the same
transport, in one process.

The sender sends a campaign message through ``PriorityGate.bulk(messenger)`` and a single
message inside ``PriorityGate.priority(messenger)``. A bulk send about to enter a messenger
first waits until no priority send is under way on any transport that messenger shares with
it: the SMTP server pools of an ``email``/``email-<name>`` messenger (``email`` and
``email-x`` share server x's pool, so a tx on one holds campaigns on the other), or the
postback messenger itself. So while a single message waits for a connection or a rate-limit
turn, no new campaign message takes one before it: it waits at most for the campaign
messages already inside the messenger (at most ``app.concurrency``), never behind the rest
of the campaign. A campaign whose messenger shares nothing with it is not held.

Strict priority: a steady stream of single messages holds a campaign back for as long as it
lasts. The gate is per process; several sender processes each give their own single
messages the way (per-server limits still hold across them only as the messengers do).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from typing import Any

from services.sender.messengers.base import DeliveryResult, Messenger, OutgoingMessage
from services.sender.messengers.smtp import EmailMessenger


def transports(messenger: Messenger) -> tuple[object, ...]:
    """What ``messenger`` sends through: its SMTP server pools, or itself."""
    if isinstance(messenger, EmailMessenger):
        return tuple(messenger.servers)
    inner = getattr(messenger, "inner", None)  # a messenger wrapped by this gate
    if inner is not None:
        return transports(inner)
    return (messenger,)


class PriorityGate:
    """Counts priority sends under way per transport; bulk sends wait for theirs to be none."""

    def __init__(self) -> None:
        self._busy: dict[object, int] = {}
        self._released = asyncio.Event()
        self._wrapped: weakref.WeakKeyDictionary[Any, GatedMessenger] = \
            weakref.WeakKeyDictionary()
        self.held = 0  # bulk sends that had to wait (tests, metrics)

    def busy(self, messenger: Messenger) -> bool:
        """Whether a priority send is under way on a transport of ``messenger``."""
        return any(self._busy.get(t) for t in transports(messenger))

    @contextlib.asynccontextmanager
    async def priority(self, messenger: Messenger) -> AsyncIterator[None]:
        """Hold bulk sends on ``messenger``'s transports while the block runs."""
        keys = transports(messenger)
        for key in keys:
            self._busy[key] = self._busy.get(key, 0) + 1
        try:
            yield
        finally:
            for key in keys:
                left = self._busy[key] - 1
                if left:
                    self._busy[key] = left
                else:
                    del self._busy[key]
            released, self._released = self._released, asyncio.Event()
            released.set()

    async def bulk_turn(self, messenger: Messenger) -> None:
        """Return once no priority send is under way on ``messenger``'s transports."""
        if not self._busy:
            return
        waited = False
        while self.busy(messenger):
            waited = True
            await self._released.wait()
        if waited:
            self.held += 1

    def bulk(self, messenger: Messenger) -> Messenger:
        """``messenger`` for campaign sends: each waits its turn first (one wrapper per
        messenger, kept as long as the messenger is)."""
        wrapped = self._wrapped.get(messenger)
        if wrapped is None:
            wrapped = self._wrapped[messenger] = GatedMessenger(messenger, self)
        return wrapped


class GatedMessenger:
    """A messenger whose sends wait for the priority sends on its transports."""

    def __init__(self, inner: Messenger, gate: PriorityGate) -> None:
        self.inner = inner
        self.name = inner.name
        self._gate = gate

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        await self._gate.bulk_turn(self.inner)
        return await self.inner.send(message)

    async def close(self) -> None:
        return None  # the registry closes the messenger itself
