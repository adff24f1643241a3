"""Maintenance events: analytics pruned before a date (``DELETE /api/maintenance/analytics``).

``tracking.pruned`` (category ``tracking``, one stream ``tracking-prune-<uuid>`` per request,
so it never conflicts with the recorders' streams): the views (``kind`` ``views``) or link
clicks (``clicks``) recorded before ``before`` are removed from the analytics read models.
The projection applies it in log order, so a rebuild removes exactly the rows that existed
when the prune was appended (docs/maintenance.md). The raw ``tracking.*`` events stay in the
log: events are immutable, and they hold ids, counts and times, nothing personal.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from events.base import Event

PrunedKind = Literal["views", "clicks"]


class TrackingPruned(Event, tag="tracking.pruned", kw_only=True, frozen=True):
    """The ``kind`` analytics recorded before ``before`` were deleted, at ``at``."""

    CATEGORY = "tracking"
    kind: PrunedKind
    before: datetime
    at: datetime


def prune_stream(request_uuid: str) -> str:
    return f"tracking-prune-{request_uuid}"


# Go's time.Parse(time.RFC3339, ...): date, 'T', time, optional fraction, 'Z' or an offset.
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})")


def parse_rfc3339(text: str) -> datetime | None:
    """``text`` as Go's ``time.Parse(time.RFC3339, text)`` reads it (fractions beyond
    microseconds truncated), or None: the maintenance routes' ``before_date`` and ``since``."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    main, fraction, zone = match.groups()
    micro = f".{fraction[:6]}" if fraction else ""
    try:
        return datetime.fromisoformat(main + micro + ("+00:00" if zone == "Z" else zone))
    except ValueError:  # 2024-02-30, 25:00, a year 0000...
        return None
