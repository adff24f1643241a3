"""The base of every event: a frozen msgspec Struct tagged with a stable type name."""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """An immutable fact. Subclasses give an explicit, stable ``tag`` (e.g. ``list.created``).

    Rules: a tag is never renamed; new fields get defaults; a field's type never changes
    (bump ``SCHEMA_VERSION`` and register an upcaster instead).
    """

    SCHEMA_VERSION = 1
    CATEGORY = ""

    @property
    def event_type(self) -> str:
        tag = type(self).__struct_config__.tag
        assert isinstance(tag, str)
        return tag


class EventMetadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Who caused an event and in answer to what."""

    actor: str = ""
    correlation_id: str = ""
    causation_id: str = ""
    request_id: str = ""
    idempotency_key: str = ""
