"""One command decided on many streams in one transaction (bulk deletes and the like)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from events.store import StreamAppend
from kernel.errors import NotFound
from services.command_api.executor import Decision


async def decide_each(
    targets: Iterable[int], decide_one: Callable[[int], Awaitable[StreamAppend]]
) -> Decision:
    """The appends of ``decide_one`` for each distinct target, in order. Like listmonk, a
    target that does not exist (or no longer exists) is skipped; the result names the streams
    changed under ``deleted``."""
    appends: list[StreamAppend] = []
    for target in dict.fromkeys(targets):
        try:
            appends.append(await decide_one(target))
        except NotFound:
            continue
    return Decision(appends, {"deleted": [a.stream_id for a in appends]})
