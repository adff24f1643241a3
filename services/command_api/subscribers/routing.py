"""What the subscriber command routes (and the public pages) share: the read models a
subscriber command changes, which an answer waits for (read-your-writes), and the time a
request's commands are stamped with."""

from __future__ import annotations

from datetime import UTC, datetime

# The read models a subscriber command changes (read-your-writes waits for all of them).
PROJECTIONS = ("subscribers", "lists", "subscriber_counts", "bounces")


def now() -> datetime:
    return datetime.now(UTC)
