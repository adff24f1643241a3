"""The recorder's memory: hits merged per key and dedupe window, without any I/O.

A key is (kind, campaign uuid, subscriber uuid or None, link id). The first hit of a key opens
a window of ``window_seconds``: that hit is due at once (the next flush appends it as an event
with ``count`` 1). Every later hit of the key inside the window only adds to the window's count;
when the window closes, that count is due as one event. So a bot replaying one link a thousand
times within a window costs two events (1 + 999), whatever the rate, and the totals stay
exact. ``drain(final=True)`` hands over every count still held (at shutdown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Kind = Literal["view", "click"]


@dataclass(frozen=True, slots=True)
class HitKey:
    kind: Kind
    campaign_uuid: str
    subscriber_uuid: str | None
    link_id: int = 0


@dataclass(slots=True)
class Due:
    """``count`` hits of ``key`` to record, the last one at ``at``."""

    key: HitKey
    count: int
    at: datetime


@dataclass(slots=True)
class _Window:
    closes: float
    held: int = 0
    last_at: datetime | None = None


@dataclass
class HitBuffer:
    """Hits waiting to be appended (``due``) and the open dedupe windows."""

    window_seconds: float = 60.0
    max_windows: int = 100_000
    due: dict[HitKey, Due] = field(default_factory=dict)
    windows: dict[HitKey, _Window] = field(default_factory=dict)
    hits: int = 0

    def hit(self, key: HitKey, now: float, at: datetime) -> None:
        """One hit at monotonic time ``now`` (wall-clock ``at``)."""
        self.hits += 1
        window = self.windows.get(key)
        if window is not None and window.closes > now:
            window.held += 1
            window.last_at = at
            return
        if window is not None:  # closed but not swept yet: its count goes first
            self._release(key, window)
        self._add(key, 1, at)
        self.windows[key] = _Window(closes=now + self.window_seconds)
        if len(self.windows) > self.max_windows:
            self.sweep(now, everything=True)

    def _add(self, key: HitKey, count: int, at: datetime) -> None:
        pending = self.due.get(key)
        if pending is None:
            self.due[key] = Due(key, count, at)
        else:
            pending.count += count
            pending.at = max(pending.at, at)

    def _release(self, key: HitKey, window: _Window) -> None:
        if window.held and window.last_at is not None:
            self._add(key, window.held, window.last_at)

    def sweep(self, now: float, everything: bool = False) -> None:
        """Close the windows that ended (all of them with ``everything``), making their held
        counts due."""
        for key in [k for k, w in self.windows.items() if everything or w.closes <= now]:
            self._release(key, self.windows.pop(key))

    def drain(self, now: float, limit: int | None = None, final: bool = False) -> list[Due]:
        """Take up to ``limit`` due counts (closing ended windows first; all windows when
        ``final``)."""
        self.sweep(now, everything=final)
        keys = list(self.due)[:limit] if limit is not None else list(self.due)
        return [self.due.pop(k) for k in keys]

    def restore(self, items: list[Due]) -> None:
        """Put back counts whose append failed (they are appended by a later flush)."""
        for item in items:
            self._add(item.key, item.count, item.at)

    @property
    def pending(self) -> int:
        return len(self.due)
