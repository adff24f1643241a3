"""Which chunk a sender process works on next, and where a new chunk ends: pure decisions.

The lease table (``services/sender/leases.py``) reads a campaign's chunk rows under the
campaign's row lock and asks ``next_step`` what to do; the answer depends on nothing but its
arguments, so it is unit-tested without a database.

Chunks are cut lazily, in subscriber-id order: a new chunk starts after the highest id any
chunk covers (``covered_through``) and ends at the id of its ``chunk_size``-th recipient
(``chunk_range``), so a campaign's recipients are never read whole, and chunks hold about the
same number of recipients however sparse the ids are. The last chunk reaches up to the
campaign's ``max_subscriber_id``: recipients with a lower id who become eligible later (a
resubscription) are still inside a chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ChunkRow:
    """A chunk as the lease table holds it. ``claimable``: nobody holds it, or its holder's
    lease ran out (the database's clock decides)."""

    chunk: int
    after_id: int
    last_id: int
    round: int = 0
    done: bool = False
    claimable: bool = True
    failed: int = 0


@dataclass(frozen=True)
class Reclaim:
    """Take over ``row``: nobody holds it, or its holder is gone."""

    row: ChunkRow


@dataclass(frozen=True)
class Allocate:
    """Cut a new chunk after ``after_id``."""

    after_id: int


@dataclass(frozen=True)
class Wait:
    """Every unfinished chunk is held by a live process: look again later."""


@dataclass(frozen=True)
class Complete:
    """Every recipient is in a chunk and every chunk is done."""


Step = Reclaim | Allocate | Wait | Complete


def next_step(rows: Sequence[ChunkRow], *, covered_through: int, max_subscriber_id: int,
              allocate: bool = True, min_round: int = 0) -> Step:
    """What to do next for a campaign.

    Unfinished chunks that can be taken come first (lowest number first: a dead holder's work
    is picked up before new work); then a new chunk while ids up to ``max_subscriber_id`` are
    not covered (only when ``allocate``: a campaign that is not running only redoes chunks
    reopened for a retry, ``round >= min_round``); then waiting for the chunks others hold;
    the campaign is complete when no chunk is left unfinished.
    """
    pending = [r for r in rows if not r.done and r.round >= min_round]
    claimable = sorted((r for r in pending if r.claimable), key=lambda r: r.chunk)
    if claimable:
        return Reclaim(claimable[0])
    if allocate and covered_through < max_subscriber_id:
        return Allocate(covered_through)
    if pending:
        return Wait()
    return Complete()


def chunk_range(after_id: int, ids: Sequence[int], chunk_size: int,
                max_subscriber_id: int) -> tuple[int, int] | None:
    """``(after_id, last_id)`` of a new chunk, given the first ``ids`` (ascending, at most
    ``chunk_size``) of the recipients after ``after_id``; None when there are none left."""
    if not ids:
        return None
    if len(ids) < chunk_size:
        return after_id, max(max_subscriber_id, ids[-1])
    return after_id, ids[-1]


def chunks_to_reopen(rows: Sequence[ChunkRow], round_: int) -> list[int]:
    """The chunks a retry ``round_`` sends again: those with failed deliveries, not already
    reopened for this round or a later one."""
    return sorted(r.chunk for r in rows if r.failed > 0 and r.round < round_)
