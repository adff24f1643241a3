"""A chunk's delivery state folded from its stream, and the results waiting to be recorded.

``fold`` / ``evolve`` turn a chunk's events (``events.deliveries``) into ``ChunkState``: who
was delivered, who failed for good, who failed for now and how often. A process that claims a
chunk folds what earlier holders recorded and sends only to recipients not yet settled, so a
crash or a pause never sends twice what was recorded, and never skips anyone.

``ResultBuffer`` collects a holder's results between two records; ``take`` hands them over as
one ``Pending`` batch (put back with ``restore`` if the record could not be written).
Pure: no I/O, no clock (times arrive as arguments).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from events.base import Event
from events.deliveries import (
    ChunkClaimed,
    ChunkCompleted,
    DeliveryProgress,
    FailedDelivery,
    RetryingDelivery,
    seal_error,
)


@dataclass
class ChunkState:
    """What a chunk's stream says so far.

    ``failed`` maps each subscriber failed for good to its code; ``retrying`` each subscriber
    that failed only for now to the number of such attempts (cleared once it settles).
    """

    campaign_id: int
    chunk: int
    after_id: int
    last_id: int
    round: int = 0
    holder: str = ""
    delivered: set[int] = field(default_factory=set)
    failed: dict[int, int] = field(default_factory=dict)
    retrying: dict[int, int] = field(default_factory=dict)
    completed: bool = False

    def settled(self, subscriber_id: int) -> bool:
        """Delivered, or failed for good (in this round): never sent again by this round."""
        return subscriber_id in self.delivered or subscriber_id in self.failed

    def attempts_so_far(self, subscriber_id: int) -> int:
        """Attempts that failed for now and were recorded, for a subscriber not settled."""
        return self.retrying.get(subscriber_id, 0)


def evolve(state: ChunkState | None, event: Event) -> ChunkState | None:
    """The state after ``event`` (events of other types leave it as it is)."""
    if isinstance(event, ChunkClaimed):
        if state is None:
            return ChunkState(campaign_id=event.campaign_id, chunk=event.chunk,
                              after_id=event.after_id, last_id=event.last_id,
                              round=event.round, holder=event.holder)
        if event.round > state.round:
            # A retry round: everyone who failed for good is to be sent again.
            state.failed.clear()
            state.retrying.clear()
            state.completed = False
            state.round = event.round
        state.holder = event.holder
        return state
    if state is None:
        return None
    if isinstance(event, DeliveryProgress):
        apply_progress(state, event.delivered, event.failed, event.retrying)
    elif isinstance(event, ChunkCompleted):
        state.completed = True
    return state


def apply_progress(state: ChunkState, delivered: Iterable[int],
                   failed: Iterable[FailedDelivery], retrying: Iterable[RetryingDelivery]
                   ) -> None:
    """Record one batch of results: temporary failures first, then final ones."""
    for again in retrying:
        if not state.settled(again.subscriber_id):
            state.retrying[again.subscriber_id] = (
                state.retrying.get(again.subscriber_id, 0) + again.attempts)
    for failure in failed:
        if failure.subscriber_id not in state.delivered:
            state.failed[failure.subscriber_id] = failure.code
        state.retrying.pop(failure.subscriber_id, None)
    for subscriber_id in delivered:
        state.delivered.add(subscriber_id)
        state.failed.pop(subscriber_id, None)
        state.retrying.pop(subscriber_id, None)


def fold(events: Iterable[Event]) -> ChunkState | None:
    """A chunk's state from its events in stream order (None before its first claim)."""
    state: ChunkState | None = None
    for event in events:
        state = evolve(state, event)
    return state


# Entries of each kind per delivery.progress event (see ``Pending.split``).
EVENT_ENTRIES = 250


@dataclass(frozen=True)
class Failure:
    """A failed attempt not yet recorded; ``detail`` is clear text (sealed when recorded)."""

    subscriber_id: int
    code: int
    detail: str


@dataclass
class Pending:
    """Results taken from a ``ResultBuffer`` to be recorded as one ``delivery.progress``."""

    delivered: list[int] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    retrying: list[Failure] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.delivered) + len(self.failed) + len(self.retrying)

    def failed_ids(self) -> list[int]:
        return [f.subscriber_id for f in self.failed]

    def event(self, *, campaign_id: int, chunk: int, messenger: str, keys: Mapping[int, bytes],
              at: datetime) -> DeliveryProgress:
        """The ``delivery.progress`` recording these results, failure texts sealed with each
        subscriber's key in ``keys`` (a subscriber without one keeps only the code)."""
        return DeliveryProgress(
            campaign_id=campaign_id, chunk=chunk, messenger=messenger,
            delivered=list(self.delivered),
            failed=[FailedDelivery(subscriber_id=f.subscriber_id, code=f.code,
                                   error=seal_error(keys.get(f.subscriber_id), f.subscriber_id,
                                                    f.detail))
                    for f in self.failed],
            retrying=[RetryingDelivery(subscriber_id=f.subscriber_id, code=f.code)
                      for f in self.retrying],
            at=at)

    def split(self, size: int = EVENT_ENTRIES) -> list[Pending]:
        """These results as batches of at most ``size`` entries of each kind, in order, so
        that no event outgrows what NATS carries (a failure's sealed text is up to ~1.4 KB),
        however many results piled up while the database was away."""
        parts: list[Pending] = []
        longest = max(len(self.delivered), len(self.failed), len(self.retrying))
        for start in range(0, longest, size):
            end = start + size
            parts.append(Pending(delivered=self.delivered[start:end],
                                 failed=self.failed[start:end],
                                 retrying=self.retrying[start:end]))
        return parts


class ResultBuffer:
    """Results of a chunk's messages since its last record."""

    def __init__(self) -> None:
        self._pending = Pending()

    def __len__(self) -> int:
        return len(self._pending)

    def delivered(self, subscriber_id: int) -> None:
        self._pending.delivered.append(subscriber_id)

    def failed(self, subscriber_id: int, code: int, detail: str) -> None:
        self._pending.failed.append(Failure(subscriber_id, code, detail))

    def retrying(self, subscriber_id: int, code: int, detail: str) -> None:
        self._pending.retrying.append(Failure(subscriber_id, code, detail))

    def take(self) -> Pending:
        """Everything buffered, leaving the buffer empty."""
        taken, self._pending = self._pending, Pending()
        return taken

    def restore(self, taken: Pending) -> None:
        """Put back results whose record failed (before anything newer)."""
        self._pending = Pending(delivered=taken.delivered + self._pending.delivered,
                                failed=taken.failed + self._pending.failed,
                                retrying=taken.retrying + self._pending.retrying)
