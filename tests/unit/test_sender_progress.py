"""A chunk's state folded from its events, and the results buffered between two records."""

from __future__ import annotations

from datetime import UTC, datetime

from events.crypto import new_data_key
from events.deliveries import (
    ChunkClaimed,
    ChunkCompleted,
    DeliveryProgress,
    FailedDelivery,
    RetryingDelivery,
    clean_error,
    open_error,
)
from services.sender.progress import ResultBuffer, fold

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)


def claimed(holder: str = "a", round_: int = 0) -> ChunkClaimed:
    return ChunkClaimed(campaign_id=7, chunk=2, after_id=100, last_id=200, round=round_,
                        holder=holder, at=T0)


def progress(delivered: list[int] = [], failed: list[int] = [],  # noqa: B006
             retrying: list[int] = []) -> DeliveryProgress:  # noqa: B006
    return DeliveryProgress(
        campaign_id=7, chunk=2, messenger="email", delivered=delivered,
        failed=[FailedDelivery(subscriber_id=i, code=550) for i in failed],
        retrying=[RetryingDelivery(subscriber_id=i, code=451) for i in retrying], at=T0)


def test_nothing_before_the_first_claim() -> None:
    assert fold([]) is None
    assert fold([progress(delivered=[101])]) is None


def test_recorded_results_settle_recipients_and_retries_count_attempts() -> None:
    state = fold([claimed(), progress(delivered=[101, 102], retrying=[103]),
                  progress(failed=[104], retrying=[103])])
    assert state is not None
    assert (state.after_id, state.last_id, state.holder) == (100, 200, "a")
    assert [i for i in (101, 102, 103, 104, 105) if state.settled(i)] == [101, 102, 104]
    assert state.attempts_so_far(103) == 2
    assert not state.completed


def test_a_retried_delivery_settles_and_a_delivery_is_never_undone_by_a_failure() -> None:
    state = fold([claimed(), progress(retrying=[103]), progress(delivered=[103]),
                  progress(failed=[103]), ChunkCompleted(campaign_id=7, chunk=2, at=T0)])
    assert state is not None
    assert state.delivered == {103} and state.failed == {} and state.retrying == {}
    assert state.completed


def test_a_new_holder_keeps_what_the_previous_one_recorded() -> None:
    state = fold([claimed("a"), progress(delivered=[101], failed=[102]), claimed("b")])
    assert state is not None
    assert state.holder == "b" and state.settled(101) and state.settled(102)


def test_a_retry_round_sends_the_failures_again_but_never_the_deliveries() -> None:
    state = fold([claimed("a"), progress(delivered=[101], failed=[102], retrying=[103]),
                  ChunkCompleted(campaign_id=7, chunk=2, at=T0), claimed("b", round_=4)])
    assert state is not None
    assert (state.round, state.completed) == (4, False)
    assert state.settled(101) and not state.settled(102) and state.attempts_so_far(103) == 0
    # the same round claimed again (a holder died mid-retry) keeps the round's results
    state = fold([claimed("a"), progress(failed=[102]), claimed("b", 4),
                  progress(failed=[102]), claimed("c", 4)])
    assert state is not None and state.settled(102)


def test_buffered_results_become_one_record_with_failure_texts_sealed() -> None:
    buffer = ResultBuffer()
    buffer.delivered(101)
    buffer.retrying(103, 451, "greylisted")
    buffer.failed(104, 550, "5.1.1 <ann@example.com>: no such user")
    assert len(buffer) == 3
    key = new_data_key()
    taken = buffer.take()
    assert len(buffer) == 0
    event = taken.event(campaign_id=7, chunk=2, messenger="email", keys={104: key}, at=T0)
    assert event.delivered == [101]
    assert event.retrying == [RetryingDelivery(subscriber_id=103, code=451)]
    (failure,) = event.failed
    assert (failure.subscriber_id, failure.code) == (104, 550)
    assert "ann@example.com" not in failure.error
    assert open_error(key, 104, failure.error) == "5.1.1 <ann@example.com>: no such user"
    assert open_error(None, 104, failure.error) == "[erased]"


def test_a_record_that_failed_is_put_back_before_newer_results() -> None:
    buffer = ResultBuffer()
    buffer.delivered(1)
    taken = buffer.take()
    buffer.delivered(2)
    buffer.restore(taken)
    assert buffer.take().delivered == [1, 2]


def test_an_erased_subscribers_failure_keeps_its_code_only() -> None:
    buffer = ResultBuffer()
    buffer.failed(104, 550, "5.1.1 <ann@example.com>: no such user")
    event = buffer.take().event(campaign_id=7, chunk=2, messenger="email", keys={}, at=T0)
    assert (event.failed[0].code, event.failed[0].error) == (550, "")


def test_failure_texts_are_kept_on_one_line_without_control_characters() -> None:
    text = "550 5.1.1\r\n<a@b>:\x00 no\u2028such user"
    assert clean_error(text) == "550 5.1.1 <a@b>: no such user"
    assert len(clean_error("x" * 5000)) == 1000


def test_many_results_are_recorded_as_several_events_in_order() -> None:
    buffer = ResultBuffer()
    for n in range(600):
        buffer.delivered(n)
    buffer.failed(9999, 550, "no")
    parts = buffer.take().split(250)
    assert [len(p.delivered) for p in parts] == [250, 250, 100]
    assert [p.failed_ids() for p in parts] == [[9999], [], []]
    assert [i for p in parts for i in p.delivered] == list(range(600))
