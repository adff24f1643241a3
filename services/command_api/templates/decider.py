"""The template decider: pure ``decide`` and ``evolve`` over one ``template-<id>`` stream.

The stream knows whether its template is the default (``template.default_set`` /
``template.default_unset`` land on it), so refusing to delete the default needs no other
stream. Moving the default touches two streams; the handler finds the current default and
runs ``UnsetDefault`` on its stream and ``MakeDefault`` on the new one in one transaction.
"""

from __future__ import annotations

import msgspec

from events.base import Event
from events.templates import (
    TemplateCreated,
    TemplateDefaultSet,
    TemplateDefaultUnset,
    TemplateDeleted,
    TemplateType,
    TemplateUpdated,
)
from kernel.errors import Conflict, InvalidInput, NotFound
from services.command_api.decider import Decider
from services.command_api.templates.commands import (
    CANNOT_DELETE,
    ONLY_CAMPAIGN_DEFAULT,
    TEMPLATE_NOT_FOUND,
    CreateTemplate,
    DeleteTemplate,
    MakeDefault,
    TemplateCommand,
    UnsetDefault,
    UpdateTemplate,
    check_template,
)


class Absent(msgspec.Struct, frozen=True):
    """No such template has ever been created."""


class Active(msgspec.Struct, frozen=True, kw_only=True):
    """A live template with its current fields."""

    template_id: int
    name: str
    template_type: TemplateType
    subject: str
    body: str
    body_source: str | None
    is_default: bool = False


class Deleted(msgspec.Struct, frozen=True):
    """The template was deleted; its id is never reused."""


TemplateState = Absent | Active | Deleted


def stream_id(template_id: int) -> str:
    return f"template-{template_id}"


def decide(state: TemplateState, command: TemplateCommand) -> list[Event]:
    """The events a command produces on a template in ``state``, or a ``DomainError``."""
    if isinstance(command, CreateTemplate):
        return _create(state, command)
    if isinstance(command, UpdateTemplate):
        return _update(state, command)
    if isinstance(command, MakeDefault):
        return _make_default(state, command)
    if isinstance(command, UnsetDefault):
        return _unset_default(state, command)
    return _delete(state, command)


def _create(state: TemplateState, c: CreateTemplate) -> list[Event]:
    if not isinstance(state, Absent):
        raise Conflict(f"template {c.template_id} already exists")
    subject = c.subject if c.template_type == "tx" else ""
    check_template(c.template_type, c.name, subject, c.body)
    return [TemplateCreated(template_id=c.template_id, name=c.name,
                            template_type=c.template_type, subject=subject, body=c.body,
                            body_source=c.body_source, at=c.at)]


def _update(state: TemplateState, c: UpdateTemplate) -> list[Event]:
    if not isinstance(state, Active):
        raise NotFound(TEMPLATE_NOT_FOUND)
    subject = (c.subject or state.subject) if state.template_type == "tx" else ""
    body = c.body or state.body
    check_template(state.template_type, c.name, subject, body)
    return [TemplateUpdated(template_id=state.template_id, name=c.name, subject=subject,
                            body=body, body_source=c.body_source or state.body_source,
                            at=c.at)]


def _make_default(state: TemplateState, c: MakeDefault) -> list[Event]:
    if not isinstance(state, Active):
        raise NotFound(TEMPLATE_NOT_FOUND)
    if state.template_type != "campaign":
        raise InvalidInput(ONLY_CAMPAIGN_DEFAULT)
    if state.is_default:
        return []
    return [TemplateDefaultSet(template_id=state.template_id,
                               previous_template_id=c.previous_template_id, at=c.at)]


def _unset_default(state: TemplateState, c: UnsetDefault) -> list[Event]:
    if not isinstance(state, Active) or not state.is_default:
        return []  # not (or no longer) the default: nothing to give up
    return [TemplateDefaultUnset(template_id=state.template_id,
                                 new_default_template_id=c.new_default_template_id, at=c.at)]


def _delete(state: TemplateState, c: DeleteTemplate) -> list[Event]:
    if not isinstance(state, Active) or state.is_default:
        raise InvalidInput(CANNOT_DELETE)
    return [TemplateDeleted(template_id=state.template_id,
                            default_template_id=c.default_template_id, at=c.at)]


def evolve(state: TemplateState, event: Event) -> TemplateState:
    """The template's state after ``event``."""
    if isinstance(event, TemplateCreated):
        return Active(template_id=event.template_id, name=event.name,
                      template_type=event.template_type, subject=event.subject,
                      body=event.body, body_source=event.body_source)
    if isinstance(state, Active):
        if isinstance(event, TemplateUpdated):
            return msgspec.structs.replace(state, name=event.name, subject=event.subject,
                                           body=event.body, body_source=event.body_source)
        if isinstance(event, TemplateDefaultSet):
            return msgspec.structs.replace(state, is_default=True)
        if isinstance(event, TemplateDefaultUnset):
            return msgspec.structs.replace(state, is_default=False)
    if isinstance(event, TemplateDeleted):
        return Deleted()
    return state


template_decider: Decider[TemplateState, TemplateCommand] = Decider(
    initial=Absent(), decide=decide, evolve=evolve
)
