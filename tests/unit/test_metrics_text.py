"""Prometheus text rendering of the in-process metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from kernel.metrics import Metrics


def test_requests_render_as_counter_and_cumulative_histogram() -> None:
    metrics = Metrics()
    metrics.observe_request("GET", "/api/lists", 200, 0.003)
    metrics.observe_request("GET", "/api/lists", 200, 0.2)
    metrics.observe_request("GET", "/api/lists", 404, 0.001)
    text = "\n".join(metrics.render())
    assert "# TYPE postlog_http_requests_total counter" in text
    assert 'postlog_http_requests_total{method="GET",route="/api/lists",status="200"} 2' in text
    assert 'postlog_http_requests_total{method="GET",route="/api/lists",status="404"} 1' in text
    assert "# TYPE postlog_http_request_duration_seconds histogram" in text
    bucket = 'postlog_http_request_duration_seconds_bucket{method="GET",route="/api/lists",le='
    assert bucket + '"0.005"} 2' in text
    assert bucket + '"0.25"} 3' in text
    assert bucket + '"+Inf"} 3' in text
    assert 'postlog_http_request_duration_seconds_count{method="GET",route="/api/lists"} 3' in text


def test_appends_are_counted() -> None:
    metrics = Metrics()
    metrics.observe_append(3)
    metrics.observe_append(1)
    text = metrics.render()
    assert "postlog_event_appends_total 2" in text
    assert "postlog_events_appended_total 4" in text


def test_fields_added_by_other_components_are_rendered() -> None:
    @dataclass
    class Extended(Metrics):
        relay_published_total: int = 0
        relay_batches: dict[str, int] = field(
            default_factory=dict, metadata={"labels": ("stream",)}
        )
        projection_errors: dict[tuple[str, str], int] = field(default_factory=dict)

    metrics = Extended(relay_published_total=7)
    metrics.relay_batches["POSTLOG"] = 2
    metrics.projection_errors[("lists", "boom")] = 1
    text = metrics.render()
    assert "# TYPE postlog_relay_published_total counter" in text
    assert "postlog_relay_published_total 7" in text
    assert "# TYPE postlog_relay_batches gauge" in text
    assert 'postlog_relay_batches{stream="POSTLOG"} 2' in text
    assert 'postlog_projection_errors{key0="lists",key1="boom"} 1' in text


def test_label_values_are_escaped() -> None:
    metrics = Metrics()
    metrics.observe_request("GET", 'a"b\\c', 200, 0.0)
    assert any('route="a\\"b\\\\c"' in line for line in metrics.render())
