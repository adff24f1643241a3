"""The templates projection turns each template event into the statements that apply it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from psycopg import sql

from events.base import Event
from events.registry import category_of, encode_data, schema_version_of
from events.store import Position, RecordedEvent
from events.templates import (
    TemplateCreated,
    TemplateDefaultSet,
    TemplateDefaultUnset,
    TemplateDeleted,
    TemplateUpdated,
)
from projections.registry import all_projections
from projections.templates import TemplatesProjection

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
PROJECTION = TemplatesProjection()
TABLES = {"templates": sql.Identifier("readmodel", "templates__rebuild")}


def recorded(event: Event, version: int = 1) -> RecordedEvent:
    return RecordedEvent(
        position=Position(100, version), event_id=uuid.uuid4(), stream_id="template-5",
        category=category_of(event), version=version, type=event.event_type,
        schema_version=schema_version_of(event), data=msgspec.json.decode(encode_data(event)),
        metadata={}, recorded_at=T0,
    )


def test_it_is_registered_and_reads_template_events() -> None:
    assert any(isinstance(p, TemplatesProjection) for p in all_projections())
    assert (PROJECTION.name, PROJECTION.categories, PROJECTION.tables) == (
        "templates", ("template",), ("templates",))


def test_its_tables_have_no_explicitly_named_indexes() -> None:
    [create] = PROJECTION.create_statements(TABLES)
    text = repr(create)
    assert "templates__rebuild" in text and "CONSTRAINT" not in text.upper()


def test_created_inserts_a_row_that_is_not_the_default() -> None:
    event = TemplateCreated(template_id=5, name="Receipt", template_type="tx", subject="S",
                            body="<p>b</p>", at=T0)
    [(statement, params)] = PROJECTION.apply(recorded(event), TABLES)
    assert "INSERT INTO" in repr(statement) and "templates__rebuild" in repr(statement)
    assert list(params) == [5, "Receipt", "tx", "S", "<p>b</p>", None, T0, T0]


def test_updated_rewrites_the_fields_and_updated_at() -> None:
    event = TemplateUpdated(template_id=5, name="N", subject="S2", body="b2",
                            body_source="{}", at=T1)
    [(statement, params)] = PROJECTION.apply(recorded(event, 2), TABLES)
    assert "UPDATE" in repr(statement)
    assert list(params) == ["N", "S2", "b2", "{}", T1, 5]


def test_default_set_and_unset_flip_is_default_only() -> None:
    [(_, set_params)] = PROJECTION.apply(
        recorded(TemplateDefaultSet(template_id=5, previous_template_id=1, at=T1)), TABLES)
    [(_, unset_params)] = PROJECTION.apply(
        recorded(TemplateDefaultUnset(template_id=1, new_default_template_id=5, at=T1)), TABLES)
    assert (list(set_params), list(unset_params)) == ([True, 5], [False, 1])


def test_deleted_removes_the_row() -> None:
    [(statement, params)] = PROJECTION.apply(
        recorded(TemplateDeleted(template_id=5, default_template_id=1, at=T1)), TABLES)
    assert "DELETE FROM" in repr(statement) and list(params) == [5]
