"""A lost database connection: which errors mean it, and what an interrupted COMMIT did."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg_pool import PoolClosed, PoolTimeout

from events.store import Position, StreamAppend
from events.subscribers import SubscriberDeleted
from kernel.db import is_connection_lost
from services.command_api.executor import _with_derived_ids
from services.command_api.in_doubt import Committed, InProgress, RolledBack, Unknown, verdict


@pytest.mark.parametrize("exc", [
    psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    psycopg.errors.CrashShutdown("terminating connection because of crash of another process"),
    psycopg.errors.CannotConnectNow("the database system is shutting down"),
    psycopg.errors.IdleSessionTimeout("terminating connection due to idle-session timeout"),
    psycopg.errors.ConnectionFailure("connection failure"),
    psycopg.OperationalError("consuming input failed: server closed the connection"),
])
def test_a_dead_session_is_a_lost_connection(exc: Exception) -> None:
    assert is_connection_lost(exc)


@pytest.mark.parametrize("exc", [
    PoolTimeout("couldn't get a connection after 30.00 sec"),  # retrying would wait again
    PoolClosed("the pool is closed"),
    psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
    psycopg.errors.UniqueViolation("duplicate key"),
    psycopg.errors.SerializationFailure("could not serialize access"),
    ValueError("not a database error"),
])
def test_other_failures_are_not_a_lost_connection(exc: Exception) -> None:
    assert not is_connection_lost(exc)


def test_the_first_event_found_means_committed_whatever_the_status() -> None:
    found = Position(812, 40)
    for status in ("committed", "in progress", "aborted", None):
        assert verdict(status, found) == Committed(found)


def test_an_aborted_transaction_without_its_events_rolled_back() -> None:
    assert verdict("aborted", None) == RolledBack()


def test_a_transaction_too_old_to_know_without_its_events_rolled_back() -> None:
    assert verdict(None, None) == RolledBack()


def test_a_transaction_still_running_is_not_decided_yet() -> None:
    assert verdict("in progress", None) == InProgress()


def test_committed_without_its_events_is_not_guessed() -> None:
    assert isinstance(verdict("committed", None), Unknown)


def _deleted(subscriber_id: int) -> SubscriberDeleted:
    return SubscriberDeleted(subscriber_id=subscriber_id, at=datetime(2024, 1, 1, tzinfo=UTC))


def _appends() -> list[StreamAppend]:
    return [
        StreamAppend("subscriber-1", 1, [_deleted(1)]),
        StreamAppend("subscriber-2", 3, [_deleted(2)] * 2),
    ]


def test_every_run_of_a_command_appends_the_same_event_ids() -> None:
    first = _with_derived_ids("command:abc", _appends())
    again = _with_derived_ids("command:abc", _appends())
    ids = [i for a in first for i in a.event_ids]
    assert ids == [i for a in again for i in a.event_ids]
    assert len(set(ids)) == 3
    assert [len(a.event_ids) for a in first] == [1, 2]
    assert _with_derived_ids("command:other", _appends())[0].event_ids != first[0].event_ids


def test_event_ids_a_decider_chose_are_kept() -> None:
    chosen = [uuid.uuid4()]
    appends = [StreamAppend("subscriber-1", 1, [_deleted(1)], chosen)]
    assert list(_with_derived_ids("command:abc", appends)[0].event_ids) == chosen
