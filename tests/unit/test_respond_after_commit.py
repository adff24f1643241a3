"""A committed command is answered even when the database goes away after its commit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import msgspec
import psycopg
import pytest

from events.store import Position
from kernel.errors import NotFound
from kernel.metrics import Metrics
from services.command_api.executor import CommandContext, CommandOutcome
from services.command_api.respond import answer
from services.runtime import Runtime

COMMITTED = CommandOutcome(position=Position(7, 9), result={"list_id": 4}, appended=1)


def _lost() -> psycopg.OperationalError:
    return psycopg.errors.AdminShutdown("terminating connection due to administrator command")


class Waiter:
    def __init__(self, fails: bool = False) -> None:
        self.fails = fails

    async def wait(self, position: Position | None, projections: Sequence[str], *,
                   extra_seconds: float = 0.0) -> bool:
        if self.fails:
            raise _lost()
        return True


class DeadPool:
    """A pool whose every connection is lost at once."""

    def __init__(self) -> None:
        self.asked = 0

    @asynccontextmanager
    async def connection(self, timeout: float | None = None) -> AsyncIterator[Any]:  # noqa: ASYNC109
        self.asked += 1
        raise _lost()
        yield  # pragma: no cover

    async def check(self) -> None:
        """Pinging the idle connections fails as well."""
        self.asked += 1
        raise _lost()


class CheckedReadPool:
    """The query pool: ``check`` (dropping dead idle connections) is what a retry asks."""

    def __init__(self) -> None:
        self.checks = 0

    async def check(self) -> None:
        self.checks += 1


class FakeRuntime:
    def __init__(self, waiter_fails: bool = False) -> None:
        self.waiter = Waiter(waiter_fails)
        self.metrics = Metrics()
        self.pool = DeadPool()
        self.read_pool = CheckedReadPool()


class Reads:
    """A read that loses its connection the first ``failures`` times."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or _lost()
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return {"id": 4, "name": "from the read model"}


def _data(body: bytes) -> Any:
    return msgspec.json.decode(body)["data"]


async def test_a_read_that_lost_its_connection_is_tried_again() -> None:
    read, runtime = Reads(failures=1), FakeRuntime()
    response = await answer(cast(Runtime, runtime), CommandContext(), COMMITTED,
                            ["lists"], read)
    assert response.status_code == 200
    assert _data(response.content) == {"id": 4, "name": "from the read model"}
    assert read.calls == 2
    assert runtime.read_pool.checks == 1  # its dead siblings were dropped before the retry


async def test_an_unreadable_read_model_answers_with_the_routes_fallback() -> None:
    read = Reads(failures=5)
    response = await answer(cast(Runtime, FakeRuntime()), CommandContext(), COMMITTED,
                            ["lists"], read, fallback=lambda: {"id": 4, "name": "from the event"})
    assert response.status_code == 200
    assert _data(response.content) == {"id": 4, "name": "from the event"}
    assert read.calls == 2


async def test_without_a_fallback_the_answer_is_the_commands_result() -> None:
    response = await answer(cast(Runtime, FakeRuntime()), CommandContext(), COMMITTED,
                            ["lists"], Reads(failures=5), fallback=lambda: None)
    assert response.status_code == 200
    assert _data(response.content) == {"list_id": 4}


async def test_a_read_failing_for_another_reason_is_not_retried_but_still_answered() -> None:
    read = Reads(failures=1, error=psycopg.errors.QueryCanceled("statement timeout"))
    response = await answer(cast(Runtime, FakeRuntime()), CommandContext(), COMMITTED,
                            ["lists"], read)
    assert response.status_code == 200
    assert _data(response.content) == {"list_id": 4}
    assert read.calls == 1


async def test_a_failing_wait_for_the_projections_still_reads_the_answer() -> None:
    response = await answer(cast(Runtime, FakeRuntime(waiter_fails=True)), CommandContext(),
                            COMMITTED, ["lists"], Reads(failures=0))
    assert response.status_code == 200
    assert _data(response.content)["name"] == "from the read model"


async def test_an_answer_that_cannot_be_stored_for_its_key_is_still_given() -> None:
    runtime = FakeRuntime()
    ctx = CommandContext(idempotency_key="admin:k1", fingerprint="f")
    response = await answer(cast(Runtime, runtime), ctx, COMMITTED, ["lists"], Reads(0))
    assert response.status_code == 200
    assert _data(response.content)["id"] == 4
    assert runtime.pool.asked == 2  # tried on a fresh connection once


async def test_a_stand_in_answer_is_not_kept_for_the_idempotency_key() -> None:
    runtime = FakeRuntime()
    ctx = CommandContext(idempotency_key="admin:k2", fingerprint="f")
    response = await answer(cast(Runtime, runtime), ctx, COMMITTED, ["lists"], Reads(5))
    assert response.status_code == 200
    assert _data(response.content) == {"list_id": 4}
    assert runtime.pool.asked == 0  # a retry of the key reads the read model again


async def test_a_domain_answer_of_the_read_is_kept() -> None:
    async def gone() -> Any:
        raise NotFound("subscriber not found")

    with pytest.raises(NotFound):
        await answer(cast(Runtime, FakeRuntime()), CommandContext(), COMMITTED, ["x"], gone)
