"""The list decider, given/when/then: events in, command, events (or a refusal) out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.base import Event
from events.lists import ListCreated, ListDeleted, ListUpdated
from kernel.errors import Conflict, DomainError, InvalidInput, NotFound
from services.command_api.lists.commands import (
    CreateList,
    DeleteList,
    ListFields,
    UpdateList,
    fields_from_form,
    fields_from_json,
    normalize_tags,
)
from services.command_api.lists.decider import Absent, Active, Deleted, list_decider
from tests.unit.given_when_then import when_deciding

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
UUID = "1bb246ab-7417-4cef-bddc-8fc8fc941d3a"

CREATED = ListCreated(list_id=5, uuid=UUID, name="Test list", list_type="public",
                      optin="double", status="active", tags=["news"],
                      description="About tests", at=T0)


when = when_deciding(list_decider)


def test_create_on_a_new_stream_records_the_list() -> None:
    command = CreateList(list_id=5, uuid=UUID, name="Test list", list_type="public",
                         optin="double", tags=("news",), description="About tests", at=T0)
    assert when([], command) == [CREATED]


def test_create_defaults_are_private_single_active() -> None:
    [event] = when([], CreateList(list_id=1, uuid=UUID, name="x", at=T0))
    assert isinstance(event, ListCreated)
    assert (event.list_type, event.optin, event.status, event.tags) == (
        "private", "single", "active", [])


def test_create_twice_is_a_conflict() -> None:
    with pytest.raises(Conflict):
        when([CREATED], CreateList(list_id=5, uuid=UUID, name="again", at=T1))


@pytest.mark.parametrize("name", ["", "x" * 2001, "é" * 1001])
def test_create_refuses_a_name_outside_1_to_2000_bytes(name: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid name"):
        when([], CreateList(list_id=1, uuid=UUID, name=name, at=T0))


def test_update_keeps_fields_sent_empty_and_replaces_name_and_tags() -> None:
    command = UpdateList(list_id=5, name="Renamed", tags=(), at=T1)
    assert when([CREATED], command) == [ListUpdated(
        list_id=5, name="Renamed", list_type="public", optin="double", status="active",
        tags=[], description="About tests", at=T1)]


def test_update_changes_every_field_sent() -> None:
    command = UpdateList(list_id=5, name="N", list_type="private", optin="single",
                         status="archived", tags=("a", "b"), description="new", at=T1)
    assert when([CREATED], command) == [ListUpdated(
        list_id=5, name="N", list_type="private", optin="single", status="archived",
        tags=["a", "b"], description="new", at=T1)]


def test_update_builds_on_the_latest_update() -> None:
    first = ListUpdated(list_id=5, name="N", list_type="temporary", optin="single",
                        status="archived", tags=[], description="d2", at=T1)
    [event] = when([CREATED, first], UpdateList(list_id=5, name="M", at=T1))
    assert isinstance(event, ListUpdated)
    assert (event.list_type, event.optin, event.status, event.description) == (
        "temporary", "single", "archived", "d2")


@pytest.mark.parametrize("given", [[], [CREATED, ListDeleted(list_id=5, at=T1)]])
def test_update_of_an_absent_or_deleted_list_is_not_found(given: list[Event]) -> None:
    with pytest.raises(NotFound, match="List not found"):
        when(given, UpdateList(list_id=5, name="x", at=T1))


def test_update_refuses_an_empty_name() -> None:
    with pytest.raises(InvalidInput):
        when([CREATED], UpdateList(list_id=5, name="", at=T1))


def test_delete_records_the_deletion() -> None:
    assert when([CREATED], DeleteList(list_id=5, at=T1)) == [ListDeleted(list_id=5, at=T1)]


@pytest.mark.parametrize("given", [[], [CREATED, ListDeleted(list_id=5, at=T1)]])
def test_delete_of_an_absent_or_deleted_list_is_not_found(given: list[Event]) -> None:
    with pytest.raises(NotFound):
        when(given, DeleteList(list_id=5, at=T1))


def test_evolve_walks_absent_active_deleted() -> None:
    assert list_decider.fold([]) == Absent()
    assert isinstance(list_decider.fold([CREATED]), Active)
    assert list_decider.fold([CREATED, ListDeleted(list_id=5, at=T1)]) == Deleted()


# --- request bodies ---------------------------------------------------------------------------

def test_json_body_binds_known_fields_case_insensitively_and_ignores_others() -> None:
    body = b'{"Name": "A", "type": "public", "tags": [" x  y ", "", null], "id": 9, "foo": 1}'
    assert fields_from_json(body) == ListFields(name="A", type="public", tags=("x-y",))


def test_json_nulls_and_empty_body_bind_nothing() -> None:
    assert fields_from_json(b"") == ListFields()
    assert fields_from_json(b'{"name": null, "tags": null}') == ListFields()


@pytest.mark.parametrize(("body", "message"), [
    (b'{"name": ', "Syntax error"),
    (b'{"name": 5}', "Unmarshal type error: expected=string, got=number, field=name"),
    (b'{"tags": "a"}', "Unmarshal type error: expected=[]string, got=string, field=tags"),
    (b'{"tags": [1]}', "Unmarshal type error: expected=string, got=number, field=tags"),
    (b'[1]', "Unmarshal type error: expected=object, got=array"),
])
def test_json_syntax_and_type_errors_are_invalid_input(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        fields_from_json(body)


def test_form_binds_first_value_and_repeated_tags() -> None:
    form = {"NAME": ["n", "m"], "type": ["private"], "tags": ["a", "b c"]}
    assert fields_from_form(form) == ListFields(name="n", type="private", tags=("a", "b-c"))


@pytest.mark.parametrize(("fields", "message"), [
    (ListFields(), "Invalid name"),
    (ListFields(name="n", type="secret"), "Invalid list type"),
    (ListFields(name="n", optin="triple"), "Invalid list opt-in"),
    (ListFields(name="n", status="gone"), "Invalid list status"),
    (ListFields(name="n", tags=("t" * 101,)), "Invalid tags"),
])
def test_fields_are_validated_like_listmonk(fields: ListFields, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        fields.to_create(1, UUID, T0)
    with pytest.raises(DomainError, match=message):
        fields.to_update(1, T0)


def test_update_fields_sent_empty_become_keep() -> None:
    command = ListFields(name="n").to_update(3, T0)
    assert (command.list_type, command.optin, command.status, command.description) == (
        None, None, None, None)


def test_tags_are_trimmed_and_inner_spaces_become_dashes() -> None:
    assert normalize_tags(["  a b\tc ", "   ", "Keep-Case"]) == ("a-b-c", "Keep-Case")
