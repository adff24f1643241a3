"""Which chunk a sender takes next, where a new chunk ends, which chunks a retry reopens, and
when a campaign is complete: pure decisions, no database."""

from __future__ import annotations

from services.sender.planning import (
    Allocate,
    ChunkRow,
    Complete,
    Reclaim,
    Wait,
    chunk_range,
    chunks_to_reopen,
    next_step,
)


def row(chunk: int, *, done: bool = False, claimable: bool = False, round_: int = 0,
        failed: int = 0) -> ChunkRow:
    return ChunkRow(chunk=chunk, after_id=chunk * 10, last_id=chunk * 10 + 10, round=round_,
                    done=done, claimable=claimable, failed=failed)


def test_a_dead_holders_chunk_is_taken_before_any_new_one() -> None:
    rows = [row(0, done=True), row(2, claimable=True), row(1, claimable=True), row(3)]
    assert next_step(rows, covered_through=40, max_subscriber_id=100) == Reclaim(rows[2])


def test_a_new_chunk_starts_after_the_highest_id_covered() -> None:
    rows = [row(0, done=True), row(1)]
    assert next_step(rows, covered_through=20, max_subscriber_id=100) == Allocate(20)


def test_with_every_id_covered_it_waits_for_the_chunks_others_hold() -> None:
    assert next_step([row(4)], covered_through=100, max_subscriber_id=100) == Wait()


def test_the_campaign_is_complete_only_when_every_chunk_is_done() -> None:
    rows = [row(0, done=True), row(1, done=True)]
    assert next_step(rows, covered_through=100, max_subscriber_id=100) == Complete()
    assert next_step([], covered_through=0, max_subscriber_id=0) == Complete()
    # ids left to cover: not complete, even with every chunk done
    assert next_step(rows, covered_through=20, max_subscriber_id=100) == Allocate(20)


def test_a_campaign_that_is_not_running_only_redoes_chunks_reopened_for_a_retry() -> None:
    rows = [row(0, claimable=True), row(1, claimable=True, round_=3)]
    step = next_step(rows, covered_through=20, max_subscriber_id=100, allocate=False,
                     min_round=1)
    assert step == Reclaim(rows[1])
    assert next_step(rows[:1], covered_through=20, max_subscriber_id=100, allocate=False,
                     min_round=1) == Complete()


def test_a_chunk_ends_at_its_last_recipient_or_reaches_up_to_the_frozen_maximum() -> None:
    assert chunk_range(0, [3, 5, 9], 3, 100) == (0, 9)
    assert chunk_range(9, [12, 40], 3, 100) == (9, 100)  # the last chunk
    assert chunk_range(100, [], 3, 100) is None


def test_a_retry_round_reopens_each_chunk_with_failures_once() -> None:
    rows = [row(0, done=True, failed=2), row(1, done=True), row(2, failed=1, round_=5),
            row(3, done=True, failed=1, round_=2)]
    assert chunks_to_reopen(rows, 5) == [0, 3]
    assert chunks_to_reopen(rows, 2) == [0]
