"""The log ring behind /api/logs and /api/events (kernel/logring.py): redaction, capacity,
events for errors and warnings only."""

from __future__ import annotations

import asyncio

from kernel.logring import EMAIL_MASK, REDACTED, LogRing, ServerEvent, redact


def test_redaction_removes_secrets_and_addresses() -> None:
    entry = redact(None, "info", {"event": "smtp_login", "password": "hunter2",
                                  "api_key": "k", "email": "x@example.com",
                                  "error": "550 <bob@example.org> unknown",
                                  "details": {"token": "t", "host": "mx"}, "count": 3})
    assert entry["password"] == entry["api_key"] == entry["email"] == REDACTED
    assert entry["error"] == f"550 <{EMAIL_MASK}> unknown"
    assert entry["details"] == {"token": REDACTED, "host": "mx"}
    assert entry["count"] == 3 and entry["event"] == "smtp_login"


def test_ring_keeps_the_last_lines_in_order() -> None:
    ring = LogRing(size=3, origin="here:1")
    for n in range(5):
        ring.processor(None, "info", {"event": f"line{n}", "level": "info",
                                      "timestamp": "2026-01-01T00:00:00Z", "n": n})
    lines = ring.lines()
    assert len(lines) == 3
    assert [line.split(": ", 1)[1].split()[0] for line in lines] == ["line2", "line3", "line4"]
    assert lines[0].startswith("2026-01-01T00:00:00Z [here:1] info")


async def test_only_errors_and_warnings_become_events() -> None:
    ring = LogRing(origin="here:1")
    got: list[ServerEvent] = []
    stop = ring.listen(got.append)
    for level in ("debug", "info", "warning", "error"):
        ring.processor(None, level, {"event": f"{level}_happened", "level": level})
    await asyncio.sleep(0)
    stop()
    ring.processor(None, "error", {"event": "after_stop", "level": "error"})
    assert [(e.type, e.message.split()[2]) for e in got] == [
        ("notice", "warning_happened"), ("error", "error_happened")]


def test_lines_from_worker_threads_are_kept() -> None:
    import threading

    ring = LogRing(origin="here:1")
    threads = [threading.Thread(target=ring.processor,
                                args=(None, "info", {"event": f"t{n}", "level": "info"}))
               for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ring.lines()) == 8
    assert len(ring.take_outbox()) == 8 and ring.take_outbox() == []
