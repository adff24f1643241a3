"""What `postlog projections status` and `rebuild` print."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from events.store import START, Position
from projections.rebuild import ProgressBar
from projections.status import ProjectionStatus, format_status_table


def test_status_table_has_a_row_per_projection_in_aligned_columns() -> None:
    rows = [
        ProjectionStatus("lists", Position(7, 42), Position(7, 42), 0, 0.0,
                         datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)),
        ProjectionStatus("subscribers", START, Position(7, 42), 42, 3.25, None, 2),
    ]
    lines = format_status_table(rows).splitlines()
    assert lines[0].split() == ["PROJECTION", "POSITION", "HEAD", "LAG", "(EVENTS)", "LAG",
                                "(SECONDS)", "UPDATED", "QUARANTINED"]
    assert lines[1].split() == ["lists", "7:42", "7:42", "0", "0.0", "2024-05-01T12:00:00+00:00",
                                "0"]
    assert lines[2].split() == ["subscribers", "0:0", "7:42", "42", "3.2", "never", "2"]
    assert lines[0].index("POSITION") == lines[1].index("7:42") == lines[2].index("0:0")


def test_progress_bar_shows_share_done() -> None:
    out = io.StringIO()
    bar = ProgressBar(200, "rebuilding lists", out, width=10)
    bar.update(50, force=True)
    bar.finish(200)
    text = out.getvalue()
    assert "\rrebuilding lists [##........]  25% 50/200 events" in text
    assert "\rrebuilding lists [##########] 100% 200/200 events" in text
    assert text.endswith("\n")


def test_progress_bar_is_silent_without_a_stream() -> None:
    bar = ProgressBar(10, "rebuilding lists", None)
    bar.update(5, force=True)
    bar.finish(10)
