"""An event a projection cannot apply is quarantined with its stream, and nothing else stops
(real Postgres; the poisoned events are planted in ``eventlog.events`` as a hand-made log would
hold them)."""

from __future__ import annotations

import random
import string
import uuid
from types import SimpleNamespace
from typing import Any, cast

import pytest
from psycopg_pool import AsyncConnectionPool

from events import registry
from events.lists import ListDeleted
from events.templates import TemplateCreated
from kernel.metrics import Metrics
from kernel.settings import Settings
from postlog import admin
from postlog.cli import build_parser
from projections.lists import ListsProjection
from projections.quarantine import QuarantineRow, quarantined_events
from projections.rebuild import rebuild
from projections.status import projection_status
from projections.templates import TemplatesProjection
from services.http.metrics_route import lag_lines
from services.runtime import Runtime
from tests.integration.projection_support import (
    NOW,
    ListBook,
    append_lists,
    append_one,
    at,
    eventually,
    notify_appended,
    plant,
    running,
    table_rows,
    updated,
)


def random_text(length: int) -> str:
    """Text that does not compress: too large for a B-tree index entry (SQLSTATE 54000)."""
    return "".join(random.choices(string.ascii_letters + string.digits, k=length))


def list_data(list_id: int, name: str, **fields: Any) -> dict[str, Any]:
    return {"list_id": list_id, "uuid": str(uuid.uuid4()), "name": name, "list_type": "public",
            "optin": "single", "at": NOW.isoformat(), **fields}


async def quarantine(pool: AsyncConnectionPool[Any], name: str) -> list[QuarantineRow]:
    async with pool.connection() as conn:
        return await quarantined_events(conn, [name])


def described(rows: list[QuarantineRow]) -> list[tuple[str, str, int, bool]]:
    """(stream, type, attempts, froze the stream itself) per quarantined event."""
    return [(r.stream_id, r.type, r.attempts, r.caused_by is None) for r in rows]


async def test_events_a_projection_cannot_apply_are_quarantined_and_the_rest_goes_on(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The test read model indexes list names, so a 30,000-character name cannot go in
    (54000, which psycopg raises as an OperationalError, and used to stop every projection);
    the templates projection meets a ``template.created`` that does not decode. Both go on
    with the other streams, the real ``lists`` projection applies everything, and the later
    events of the two broken streams are quarantined too, also after a restart."""
    book, lists, templates = ListBook(), ListsProjection(), TemplatesProjection()
    projections, metrics = [book, lists, templates], Metrics()
    names = [p.name for p in projections]
    async with running(iso_settings, pool, projections, metrics=metrics) as task:
        await append_lists(pool, [1])
        await plant(pool, "list-900", "list.created", list_data(900, random_text(30_000)))
        await plant(pool, "template-901", "template.created",
                    {"template_id": "nine hundred and one", "name": "broken"})
        await append_lists(pool, [2, 3])
        await append_one(pool, TemplateCreated(template_id=5, name="fine",
                                               template_type="campaign", body="{{ .Body }}",
                                               at=NOW), "template-5")
        await append_one(pool, updated(900, "renamed"), "list-900")
        await plant(pool, "template-901", "template.updated", {"template_id": 901})
        await plant(pool, "template-901", "template.deleted",
                    {"template_id": 901, "at": NOW.isoformat()})
        head = await append_lists(pool, [4])
        await notify_appended(pool)
        await eventually(at(pool, names, head))
        assert not task.done()
    assert [r[0] for r in await table_rows(pool, book.rows)] == [1, 2, 3, 4]
    assert await table_rows(pool, book.totals) == [("list.created", 4)]
    assert [(r[0], r[2]) for r in await table_rows(pool, "lists")] == [
        (1, "list 1"), (2, "list 2"), (3, "list 3"), (4, "list 4"), (900, "renamed")]
    assert [r[0] for r in await table_rows(pool, "templates")] == [5]

    book_rows, template_rows = await quarantine(pool, "book"), await quarantine(pool, "templates")
    assert described(book_rows) == [("list-900", "list.created", 3, True),
                                    ("list-900", "list.updated", 0, False)]
    assert book_rows[0].error.startswith("54000 ProgramLimitExceeded: index row")
    assert book_rows[1].caused_by == book_rows[0].event_id
    # template.deleted is applied on a frozen stream (a deletion depends on nothing before it).
    assert described(template_rows) == [("template-901", "template.created", 3, True),
                                        ("template-901", "template.updated", 0, False)]
    assert template_rows[0].error.startswith("ValidationError: ")
    assert await quarantine(pool, "lists") == []

    status = {row.name: row.quarantined for row in await projection_status(pool, projections)}
    assert status == {"book": 2, "lists": 0, "templates": 2}
    assert metrics.projection_events_quarantined_total == {"book": 2, "templates": 2}
    runtime = cast(Runtime, SimpleNamespace(pool=pool))
    scraped = (await lag_lines(runtime, {})).lines
    assert 'postlog_projection_quarantined_events{projection="book"} 2' in scraped
    assert 'postlog_projection_quarantined_events{projection="lists"} 0' in scraped

    assert await admin.run(build_parser().parse_args(["projections", "status"]),
                           iso_settings) == 0
    assert await admin.run(build_parser().parse_args(["projections", "quarantine", "templates"]),
                           iso_settings) == 0
    out = capsys.readouterr()
    status_lines = [line.split() for line in out.out.splitlines()]
    assert next(line for line in status_lines if line[:1] == ["PROJECTION"])[-1] == "QUARANTINED"
    assert next(line for line in status_lines if line[0] == "templates")[-1] == "2"
    listed = [line for line in status_lines if line[:1] == ["templates"] and len(line) > 7]
    assert [line[2:4] for line in listed] == [["template-901", "template.created"],
                                              ["template-901", "template.updated"]]
    assert "postlog projections quarantine" in out.err

    # The stream stays frozen across restarts: its next event is quarantined as well.
    async with running(iso_settings, pool, projections):
        await append_one(pool, updated(900, "again"), "list-900")
        head = await append_lists(pool, [5])
        await notify_appended(pool)
        await eventually(at(pool, names, head))
    assert [r[0] for r in await table_rows(pool, book.rows)] == [1, 2, 3, 4, 5]
    assert described(await quarantine(pool, "book"))[2:] == [
        ("list-900", "list.updated", 0, False)]


async def test_a_deletion_still_applies_on_a_frozen_stream(
    iso_settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    """An erased subscriber's data must leave the read model even when an earlier event of its
    stream was quarantined: a projection names the deletions it applies on frozen streams."""
    book = ListBook()
    async with running(iso_settings, pool, [book]):
        await append_lists(pool, [7, 8])
        await plant(pool, "list-7", "list.updated",
                    {"list_id": 7, "name": random_text(30_000), "list_type": "public",
                     "optin": "single", "status": "active", "at": NOW.isoformat()})
        await append_one(pool, updated(7, "list 7 renamed"), "list-7")
        await eventually(lambda: _quarantined(pool, "book", 2))
        assert [r[0] for r in await table_rows(pool, book.rows)] == [7, 8]  # frozen as it was
        head = await append_one(pool, ListDeleted(list_id=7, at=NOW), "list-7")
        await notify_appended(pool)
        await eventually(at(pool, [book.name], head))
    assert [r[:2] for r in await table_rows(pool, book.rows)] == [(8, "list 8")]
    assert described(await quarantine(pool, "book")) == [("list-7", "list.updated", 3, True),
                                                         ("list-7", "list.updated", 0, False)]


async def test_a_rebuild_after_the_fix_replaces_the_quarantine(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repair: ship an upcaster (or a projection fix), then rebuild. The rebuild replays the
    quarantined events too and leaves in the quarantine only what it could not apply itself."""
    book = ListBook()
    async with running(iso_settings, pool, [book]):
        await append_lists(pool, [1])
        old = {k: v for k, v in list_data(800, "").items() if k != "name"} | {"title": "Old"}
        await plant(pool, "list-800", "list.created", old, schema_version=0)  # no upcaster
        await plant(pool, "list-900", "list.created", list_data(900, random_text(30_000)))
        await append_one(pool, updated(900, "renamed"), "list-900")
        head = await append_lists(pool, [2])
        await notify_appended(pool)
        await eventually(at(pool, [book.name], head))
    assert described(await quarantine(pool, "book")) == [
        ("list-800", "list.created", 3, True), ("list-900", "list.created", 3, True),
        ("list-900", "list.updated", 0, False)]

    def v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "name": data.pop("title")}

    monkeypatch.setitem(registry._UPCASTERS, ("list.created", 0), v0_to_v1)
    await rebuild(iso_settings, pool, book, progress=False, batch_size=2)
    assert [r[:2] for r in await table_rows(pool, book.rows)] == [
        (1, "list 1"), (2, "list 2"), (800, "Old")]
    assert described(await quarantine(pool, "book")) == [
        ("list-900", "list.created", 3, True), ("list-900", "list.updated", 0, False)]

    async with pool.connection() as conn, conn.transaction():  # the log is append-only
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("DELETE FROM eventlog.events WHERE stream_id = 'list-900'"
                           " AND type = 'list.created'")
    await rebuild(iso_settings, pool, book, progress=False)
    assert await quarantine(pool, "book") == []
    assert [r[0] for r in await table_rows(pool, book.rows)] == [1, 2, 800]


async def _quarantined(pool: AsyncConnectionPool[Any], name: str, count: int) -> bool:
    return len(await quarantine(pool, name)) >= count
