"""Events of the ``template`` category (e-mail templates); stream ``template-<id>``.

A template's stream holds its whole life: creation, edits, becoming or ceasing to be the
default campaign template, deletion. Making template B the default while A is the default
appends ``template.default_unset`` to A's stream and ``template.default_set`` to B's in one
transaction, so each stream alone knows whether its template is the default (and may be
deleted) and a concurrent delete or second change of default conflicts on a stream version.

Each event carries the whole new value of the fields it touches, so a projection never needs
the previous state to apply it. ``at`` is when the command was accepted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.base import Event

TemplateType = Literal["campaign", "campaign_visual", "tx"]

TEMPLATE_TYPES: tuple[TemplateType, ...] = ("campaign", "campaign_visual", "tx")


class TemplateCreated(Event, tag="template.created", kw_only=True, frozen=True):
    """A template was created with its integer id (from ``eventlog.template_id_seq``).

    ``subject`` is only meaningful for ``tx`` templates (empty otherwise); ``body_source`` is
    the e-mail builder's JSON source of a ``campaign_visual`` template (``None`` otherwise).
    A new template is never the default: ``template.default_set`` follows when it becomes one.
    """

    CATEGORY = "template"
    template_id: int
    name: str
    template_type: TemplateType
    subject: str = ""
    body: str
    body_source: str | None = None
    at: datetime


class TemplateUpdated(Event, tag="template.updated", kw_only=True, frozen=True):
    """The template's editable fields after the edit (its type never changes)."""

    CATEGORY = "template"
    template_id: int
    name: str
    subject: str = ""
    body: str
    body_source: str | None = None
    at: datetime


class TemplateDefaultSet(Event, tag="template.default_set", kw_only=True, frozen=True):
    """This campaign template became the default (campaigns created without one use it).

    ``previous_template_id`` is the template that stopped being the default in the same
    transaction (its stream got ``template.default_unset``), ``None`` if there was none.
    """

    CATEGORY = "template"
    template_id: int
    previous_template_id: int | None = None
    at: datetime


class TemplateDefaultUnset(Event, tag="template.default_unset", kw_only=True, frozen=True):
    """This template stopped being the default because ``new_default_template_id`` became it."""

    CATEGORY = "template"
    template_id: int
    new_default_template_id: int
    at: datetime


class TemplateDeleted(Event, tag="template.deleted", kw_only=True, frozen=True):
    """The template is gone; its id is never reused.

    ``default_template_id`` is the default template when it was deleted: like listmonk,
    campaigns that used the deleted template switch to it (the campaigns read model applies
    that). ``None`` if there was no default.
    """

    CATEGORY = "template"
    template_id: int
    default_template_id: int | None = None
    at: datetime


TemplateEvent = (
    TemplateCreated | TemplateUpdated | TemplateDefaultSet | TemplateDefaultUnset | TemplateDeleted
)
