"""Counting a messenger's sends under way, so closing it waits for them instead of cutting them.

When settings change, the messengers are rebuilt and the old ones closed
(``services.sender.messengers.registry``); a message already handed to an old one must still
be delivered (or fail on its own), never dropped. A messenger ``enter``s before its first
``await`` in ``send`` and ``leave``s when the send is over; ``drain`` refuses new sends and
returns once none is under way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class MessengerClosed(RuntimeError):
    """A message was handed to a messenger that was already closed (a bug in the caller: the
    registry hands out current messengers only)."""


class InFlight:
    """The number of sends under way, and a way to wait until there are none."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.closed = False
        self._none = asyncio.Event()
        self._none.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        if self.closed:
            raise MessengerClosed(f"messenger {self.name!r} is closed")
        self.count += 1
        self._none.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._none.set()

    async def drain(self) -> None:
        """Refuse new sends, then wait for the ones under way."""
        self.closed = True
        await self._none.wait()
