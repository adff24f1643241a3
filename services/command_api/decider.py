"""The decider shape (Chassaing) and the generic handler that runs one over the event store."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any, Generic, TypeVar

import psycopg

from events.base import Event
from events.store import read_stream, read_streams

S = TypeVar("S")
C = TypeVar("C")


@dataclass(frozen=True)
class Decider(Generic[S, C]):
    """``decide(state, command) -> events`` and ``evolve(state, event) -> state``; both pure."""

    initial: S
    decide: Callable[[S, C], list[Event]]
    evolve: Callable[[S, Event], S]

    def fold(self, events: Sequence[Event]) -> S:
        return reduce(self.evolve, events, self.initial)


async def load(
    conn: psycopg.AsyncConnection[Any], stream_id: str, decider: Decider[S, Any]
) -> tuple[S, int]:
    """Fold a stream into its current state; returns the state and the stream version."""
    recorded = await read_stream(conn, stream_id)
    state = decider.fold([r.decode() for r in recorded])
    return state, (recorded[-1].version if recorded else 0)


async def load_many(
    conn: psycopg.AsyncConnection[Any], stream_ids: Iterable[str], decider: Decider[S, Any]
) -> dict[str, tuple[S, int]]:
    """``load`` for many streams with one read; a stream without events folds to the initial
    state at version 0."""
    wanted = list(dict.fromkeys(stream_ids))
    recorded = await read_streams(conn, wanted)
    out: dict[str, tuple[S, int]] = {}
    for sid in wanted:
        events = recorded.get(sid, [])
        out[sid] = (decider.fold([r.decode() for r in events]),
                    events[-1].version if events else 0)
    return out
