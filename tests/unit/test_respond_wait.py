"""A command's answer waits for its projections longer when it appended many events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytest

from events.store import Position
from kernel.metrics import Metrics
from services.command_api.executor import CommandContext, CommandOutcome
from services.command_api.respond import BULK_EVENTS_PER_SECOND, answer
from services.runtime import Runtime


class RecordingWaiter:
    """Stands in for the projection waiter: records each wait and says it was reached."""

    def __init__(self) -> None:
        self.waits: list[tuple[Position | None, tuple[str, ...], float]] = []

    async def wait(self, position: Position | None, projections: Sequence[str], *,
                   extra_seconds: float = 0.0) -> bool:
        self.waits.append((position, tuple(projections), extra_seconds))
        return True


class FakeRuntime:
    def __init__(self) -> None:
        self.waiter = RecordingWaiter()
        self.metrics = Metrics()


@pytest.mark.parametrize(("appended", "extra"), [
    (0, 0.0), (1, 0.0), (1000, 0.0), (40_000, 40_000 / BULK_EVENTS_PER_SECOND),
])
async def test_the_wait_grows_with_the_events_appended(appended: int, extra: float) -> None:
    runtime = FakeRuntime()
    outcome = CommandOutcome(position=Position(7, 9), result={}, appended=appended)
    response = await answer(cast(Runtime, runtime), CommandContext(), outcome, ["subscribers"])
    assert response.status_code == 200
    assert runtime.waiter.waits == [(Position(7, 9), ("subscribers",), extra)]
    assert runtime.metrics.appended_events == appended


