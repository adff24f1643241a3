"""Prometheus metrics of one process (request, append, relay-lag and projection-lag figures).

To add a figure, add a dataclass field to ``Metrics``: ``render()`` shows every field it does not
already know as ``postlog_<field name>``: a number as one sample (a counter when the name ends in
``_total``, else a gauge), a dict as one sample per key, labelled by the names in
``field(metadata={"labels": ("stream",)})`` (default ``key``) — keys are strings or tuples.
Figures read from the database at scrape time (lags) are added by ``GET /metrics`` itself.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

PREFIX = "postlog_"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    """Observation counts per upper bound (not cumulative; ``render`` accumulates)."""

    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(DURATION_BUCKETS, value)] += 1
        self.total += value
        self.count += 1


@dataclass
class Metrics:
    """In-process counters and gauges rendered in Prometheus' text format at ``GET /metrics``."""

    requests: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    request_seconds: dict[tuple[str, str], Histogram] = field(
        default_factory=lambda: defaultdict(Histogram)
    )
    appends: int = 0
    appended_events: int = 0
    # Set by the projection runner (projections/runner.py), one sample per projection.
    projection_events_applied_total: dict[str, int] = field(
        default_factory=lambda: defaultdict(int), metadata={"labels": ("projection",)}
    )
    projection_lag_events: dict[str, int] = field(
        default_factory=dict, metadata={"labels": ("projection",)}
    )
    projection_lag_seconds: dict[str, float] = field(
        default_factory=dict, metadata={"labels": ("projection",)}
    )
    # Events a projection could not apply, recorded in readmodel.projection_quarantine: those
    # this process quarantined, and how many the table holds (GET /metrics reads it fresh).
    projection_events_quarantined_total: dict[str, int] = field(
        default_factory=lambda: defaultdict(int), metadata={"labels": ("projection",)}
    )
    projection_quarantined_events: dict[str, int] = field(
        default_factory=dict, metadata={"labels": ("projection",)}
    )
    # Times a projection stopped before an event it could not apply (retried later).
    projection_failures_total: dict[str, int] = field(
        default_factory=lambda: defaultdict(int), metadata={"labels": ("projection",)}
    )
    # Set by the relay (events/relay.py). Lag as seen by the leader after its last cycle; the
    # scrape-time relay_lag_* figures come from GET /metrics itself.
    relay_leader: int = 0
    relay_events_published_total: int = 0  # acked and new on the stream
    relay_duplicate_acks_total: int = 0  # re-published after a crash, dropped by NATS dedupe
    relay_publish_failures_total: int = 0
    relay_chained_batches_total: int = 0  # batches proven stored by their last ack alone
    relay_events_by_reference_total: int = 0  # too large for NATS: sent without a body
    relay_pending_events: int = 0
    relay_pending_seconds: float = 0.0

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, status)] += 1
        self.request_seconds[(method, route)].observe(seconds)

    def observe_append(self, events: int) -> None:
        self.appends += 1
        self.appended_events += events

    def render(self, skip: Collection[str] = ()) -> list[str]:
        """The process's own figures as lines of Prometheus' text exposition format.

        ``skip`` names added fields not to show, because the caller renders a fresher figure of
        the same name (``GET /metrics`` reads the projection lags from the database).
        """
        out = MetricLines()
        out.family("http_requests_total", "counter", "HTTP requests answered.")
        for (method, route, status), n in sorted(self.requests.items()):
            out.sample("http_requests_total", n, method=method, route=route, status=str(status))
        out.family("http_request_duration_seconds", "histogram", "Time to answer a request.")
        for (method, route), hist in sorted(self.request_seconds.items()):
            out.histogram("http_request_duration_seconds", hist, method=method, route=route)
        out.family("event_appends_total", "counter", "Transactions that appended events.")
        out.sample("event_appends_total", self.appends)
        out.family("events_appended_total", "counter", "Events appended to the log.")
        out.sample("events_appended_total", self.appended_events)
        for f in fields(self):
            if f.name not in _RENDERED and f.name not in skip:
                out.extra(f.name, getattr(self, f.name), tuple(f.metadata.get("labels", ())))
        return out.lines


_RENDERED = frozenset({"requests", "request_seconds", "appends", "appended_events"})


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class MetricLines:
    """Builds exposition text: ``# HELP``/``# TYPE`` once per family, then samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.families: set[str] = set()

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.families.add(name)
        self.lines.append(f"# HELP {PREFIX}{name} {help_text}")
        self.lines.append(f"# TYPE {PREFIX}{name} {kind}")

    def sample(self, name: str, value: float, **labels: str) -> None:
        self.labelled(name, value, labels.items())

    def labelled(self, name: str, value: float, labels: Iterable[tuple[str, str]]) -> None:
        text = ",".join(f'{k}="{escape_label(str(v))}"' for k, v in labels)
        self.lines.append(f"{PREFIX}{name}{{{text}}} {format_value(value)}" if text
                          else f"{PREFIX}{name} {format_value(value)}")

    def histogram(self, name: str, hist: Histogram, **labels: str) -> None:
        running = 0
        for bound, n in zip((*DURATION_BUCKETS, math.inf), hist.buckets, strict=True):
            running += n
            self.sample(f"{name}_bucket", running, **labels, le=format_value(bound))
        self.sample(f"{name}_sum", hist.total, **labels)
        self.sample(f"{name}_count", hist.count, **labels)

    def extra(self, name: str, value: Any, label_names: tuple[str, ...]) -> None:
        """A field added by another component, shown by the rules in the module docstring."""
        kind = "counter" if name.endswith("_total") else "gauge"
        if isinstance(value, int | float):
            self.family(name, kind, f"{name.replace('_', ' ')}.")
            self.sample(name, value)
        elif isinstance(value, Mapping):
            self.family(name, kind, f"{name.replace('_', ' ')}.")
            for key, v in sorted(value.items(), key=lambda kv: str(kv[0])):
                parts = key if isinstance(key, tuple) else (key,)
                names = label_names or tuple(
                    "key" if len(parts) == 1 else f"key{i}" for i in range(len(parts))
                )
                if isinstance(v, int | float):
                    self.labelled(name, v, zip(names, map(str, parts), strict=False))
