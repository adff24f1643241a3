"""Command handlers of e-mail templates: create, update, set the default, delete, and record the
templates a fresh log starts with.

Each takes the command's input and an ``EventStore`` (plus a ``TemplateLog`` when it must see
the template category as a whole: where the default is, whether any template exists), decides
with the pure ``template_decider`` and stages the events. The routes (``routes.py``) and the
start-up seeding (``seed.py``) bind the input, run one handler through the executor and answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from events.base import Event
from events.store import NO_STREAM, ConcurrencyError, StreamAppend, derive_event_ids
from services.command_api.store import EventStore, decide_on
from services.command_api.templates.binding import TemplateFields
from services.command_api.templates.commands import (
    TEMPLATE_ID_SEQUENCE,
    DeleteTemplate,
    MakeDefault,
    UnsetDefault,
    UpdateTemplate,
)
from services.command_api.templates.decider import Active, stream_id, template_decider
from services.command_api.templates.template_log import FIRST_DEFAULT, SEEDING, TemplateLog


@dataclass(frozen=True)
class NewTemplate:
    """A template to create, as the client sent it; the id comes from the sequence."""

    fields: TemplateFields
    at: datetime


async def create_template(new: NewTemplate, store: EventStore) -> dict[str, Any]:
    """``{"template_id": id}`` of the new template."""
    command = new.fields.to_create(0, new.at)  # checked (and compiled) before an id is taken
    template_id = await store.next_id(TEMPLATE_ID_SEQUENCE)
    await decide_on(store, stream_id(template_id), template_decider,
                    msgspec.structs.replace(command, template_id=template_id))
    return {"template_id": template_id}


async def update_template(command: UpdateTemplate, store: EventStore) -> dict[str, Any]:
    await decide_on(store, stream_id(command.template_id), template_decider, command)
    return {"template_id": command.template_id}


async def current_default(store: EventStore, templates: TemplateLog) -> int | None:
    """The id of the default template, checked against its own stream: a stale answer (a
    change of default committed since it was read) is a conflict, so the executor runs the
    command again. With no default at all, first choosers take turns."""
    found = await templates.last_default()
    if found is None:
        await templates.serialise(FIRST_DEFAULT)
        found = await templates.last_default()
        if found is None:
            return None
    state, version = await store.load(stream_id(found), template_decider)
    if not (isinstance(state, Active) and state.is_default):
        raise ConcurrencyError(stream_id(found), version)
    return found


async def set_default_template(template_id: int, at: datetime, store: EventStore,
                               templates: TemplateLog) -> dict[str, Any]:
    """Make a campaign template the default and the previous default give way, in one
    command over both streams (the unset is staged first: never two defaults in the read
    model). Nothing changes if it already is the default."""
    previous = await current_default(store, templates)
    state, version = await store.load(stream_id(template_id), template_decider)
    made = StreamAppend(stream_id(template_id), version, template_decider.decide(
        state, MakeDefault(template_id=template_id, previous_template_id=previous, at=at)))
    if made.events and previous is not None:
        await decide_on(store, stream_id(previous), template_decider,
                        UnsetDefault(template_id=previous, new_default_template_id=template_id,
                                     at=at))
    store.append(made)
    return {}


async def delete_template(template_id: int, at: datetime, store: EventStore,
                          templates: TemplateLog) -> dict[str, Any]:
    """Delete a template that is not the default; campaigns using it switch to the default."""
    default = await current_default(store, templates)
    await decide_on(store, stream_id(template_id), template_decider,
                    DeleteTemplate(template_id=template_id, default_template_id=default, at=at))
    return {}


# The events creating one first template, given the id it gets.
TemplateEvents = Callable[[int], list[Event]]


@dataclass(frozen=True)
class FirstTemplates:
    """The templates a fresh log starts with, in id order, and the key their event ids derive
    from (fixed, so a second writer slipping past the check could not record them twice)."""

    templates: Sequence[TemplateEvents]
    key: str


async def record_first_templates(first: FirstTemplates, store: EventStore,
                                 templates: TemplateLog) -> dict[str, Any]:
    """Record the first templates unless the log has templates already (deleting them later
    does not bring them back); ``{"seeded": [streams]}`` when it records them."""
    await templates.serialise(SEEDING)
    if await templates.any_recorded():
        return {}
    planned: list[tuple[str, list[Event]]] = []
    for events_for in first.templates:
        template_id = await store.next_id(TEMPLATE_ID_SEQUENCE)
        planned.append((stream_id(template_id), events_for(template_id)))
    ids = derive_event_ids(first.key, sum(len(events) for _, events in planned))
    for stream, events in planned:
        store.append(StreamAppend(stream, NO_STREAM, events, ids[:len(events)]))
        ids = ids[len(events):]
    return {"seeded": [stream for stream, _ in planned]}
