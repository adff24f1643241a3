"""The one given/when/then helper of the decider tests (Chassaing's decider pattern).

``when = when_deciding(list_decider)`` at the top of a test module, then
``assert when([ListCreated(...)], RenameList(...)) == [ListRenamed(...)]``: the ``given``
events are folded into a state and ``when`` returns the events decided for the command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from events.base import Event
from services.command_api.decider import Decider

C = TypeVar("C")


def when_deciding(decider: Decider[Any, C]) -> Callable[[Sequence[Event], C], list[Event]]:
    """``when(given, command)`` for ``decider``."""

    def when(given: Sequence[Event], command: C) -> list[Event]:
        return decider.decide(decider.fold(list(given)), command)

    return when
