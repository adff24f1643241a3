"""Prometheus metrics of one process (request, append, relay-lag and projection-lag figures)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Metrics:
    """In-process counters and gauges rendered in Prometheus' text format at ``GET /metrics``."""

    requests: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    request_seconds_sum: dict[tuple[str, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    appends: int = 0
    appended_events: int = 0

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        self.request_seconds_sum[(method, route)] += seconds

    def observe_append(self, events: int) -> None:
        self.appends += 1
        self.appended_events += events
