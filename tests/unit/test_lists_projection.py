"""The lists projection turns each list event into the statements that apply it (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from psycopg import sql

from events.base import Event
from events.lists import ListCreated, ListDeleted, ListUpdated
from events.registry import category_of, encode_data, schema_version_of
from events.store import Position, RecordedEvent
from projections.base import live_tables
from projections.lists import ListsProjection
from projections.registry import all_projections

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
UUID = "1bb246ab-7417-4cef-bddc-8fc8fc941d3a"
PROJECTION = ListsProjection()
TABLES = {"lists": sql.Identifier("readmodel", "lists__rebuild")}


def recorded(event: Event, version: int = 1) -> RecordedEvent:

    return RecordedEvent(
        position=Position(100, version), event_id=uuid.uuid4(), stream_id="list-5",
        category=category_of(event), version=version, type=event.event_type,
        schema_version=schema_version_of(event), data=msgspec.json.decode(encode_data(event)),
        metadata={}, recorded_at=T0,
    )


def text(statement: sql.Composable) -> str:
    """The SQL with identifiers rendered naively (no connection needed)."""
    return repr(statement)


def test_it_is_registered_and_reads_list_events() -> None:
    assert any(isinstance(p, ListsProjection) for p in all_projections())
    assert (PROJECTION.name, PROJECTION.categories, PROJECTION.tables) == (
        "lists", ("list", "subscriber"), ("lists",))


def test_created_inserts_a_row_with_created_and_updated_at() -> None:
    event = ListCreated(list_id=5, uuid=UUID, name="Test", list_type="public", optin="double",
                        tags=["a"], description="d", at=T0)
    [(statement, params)] = PROJECTION.apply(recorded(event), TABLES)
    assert "INSERT INTO" in text(statement) and "lists__rebuild" in text(statement)
    assert list(params) == [5, UUID, "Test", "public", "double", "active", ["a"], "d", T0, T0]


def test_updated_rewrites_the_fields_and_updated_at() -> None:
    event = ListUpdated(list_id=5, name="N", list_type="private", optin="single",
                        status="archived", tags=[], description="", at=T1)
    [(statement, params)] = PROJECTION.apply(recorded(event, 2), TABLES)
    assert "UPDATE" in text(statement)
    assert list(params) == ["N", "private", "single", "archived", [], "", T1, 5]


def test_deleted_removes_the_row() -> None:
    [(statement, params)] = PROJECTION.apply(recorded(ListDeleted(list_id=5, at=T1), 3), TABLES)
    assert "DELETE FROM" in text(statement)
    assert list(params) == [5]


def test_tables_get_counter_columns_and_no_named_constraints() -> None:
    ddl = " ".join(text(s) for s in PROJECTION.create_statements(live_tables(PROJECTION)))
    assert "subscriber_count integer" in ddl and "subscriber_statuses jsonb" in ddl
    assert "CONSTRAINT" not in ddl.upper()
    assert "CREATE INDEX ON" in ddl  # unnamed: Postgres names them after the table
