"""The event codec: stable tags, tag-less stored data, and upcasting of old schema versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from events import registry
from events.lists import ListCreated
from events.registry import UnknownEventType, decode_event, encode_data

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_every_event_type_has_an_explicit_dotted_tag_and_a_category() -> None:
    for cls in registry.EVENT_TYPES:
        tag = cls.__struct_config__.tag
        assert isinstance(tag, str) and "." in tag, cls
        assert tag != cls.__name__
        assert cls.CATEGORY, cls


def test_stored_data_has_no_tag_and_round_trips() -> None:
    event = ListCreated(list_id=1, uuid="u", name="News", list_type="public", optin="single",
                        tags=["a"], at=NOW)
    data = msgspec.json.decode(encode_data(event))
    assert "type" not in data
    assert decode_event("list.created", 1, data) == event


def test_unknown_type_is_reported() -> None:
    with pytest.raises(UnknownEventType):
        decode_event("nope.never", 1, {})


def test_upcasters_run_from_the_stored_version_to_the_current_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ListCreated, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(registry, "_UPCASTERS", {})

    @registry.register_upcaster("list.created", 1)
    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "name": data.pop("title")}

    @registry.register_upcaster("list.created", 2)
    def v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "description": data.get("description") or "(none)"}

    old = {"list_id": 2, "uuid": "u", "title": "Old", "list_type": "private", "optin": "double",
           "at": NOW.isoformat()}
    event = decode_event("list.created", 1, old)
    assert isinstance(event, ListCreated)
    assert event.name == "Old"
    assert event.description == "(none)"
