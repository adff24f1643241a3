"""Command handlers of one subscriber: create, update (PUT and PATCH), request an opt-in,
delete its bounces; and the steps every subscriber handler shares (load a live subscriber,
stage the events of commands decided on it).

Each handler takes the command's input and an ``EventStore`` (``services/command_api/store.py``),
decides with the pure ``subscriber_decider`` and stages the events; the route binds the body,
calls one handler and answers. Personal data is sealed with the subscriber's key before it
reaches a command (the decider only passes tokens on); the e-mail index claim, the key and the
events are written in the command's one transaction.

The inputs (``NewSubscriber``, ``SubscriberUpdate``) are made by ``new_subscriber`` and
``subscriber_update``, which check what listmonk checks before anything is loaded, so a
malformed request is refused before the command runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Any

from events.base import Event
from events.store import StreamAppend
from events.subscribers import SubscriberStatus
from kernel.errors import NotFound
from services.command_api.store import EventStore, decide_on
from services.command_api.subscribers.bounce_decider import DeleteBounces, bounces_decider
from services.command_api.subscribers.commands import (
    CreateSubscriber,
    RequestOptin,
    SubscriberCommand,
    UpdateSubscriber,
)
from services.command_api.subscribers.decider import (
    SUBSCRIBER_NOT_FOUND,
    Absent,
    Active,
    SubscriberState,
    stream_id,
    subscriber_decider,
)
from services.command_api.subscribers.fields import SubscriberFields, sanitize_email
from services.command_api.subscribers.index import claim_email, existing_lists, live_lists
from services.command_api.subscribers.scope import EVERYTHING, ListScope
from services.command_api.subscribers.sealing import seal, unseal

SUBSCRIBER_ID_SEQUENCE = "eventlog.subscriber_id_seq"


async def load_active(store: EventStore, subscriber_id: int) -> tuple[Active, int]:
    """The live subscriber and its stream version; 404 if it does not exist (any more)."""
    state, version = await store.load(stream_id(subscriber_id), subscriber_decider)
    if not isinstance(state, Active):
        raise NotFound(SUBSCRIBER_NOT_FOUND)
    return state, version


def stage(store: EventStore, state: Active, version: int, *commands: SubscriberCommand
          ) -> list[Event]:
    """Decide ``commands`` one after the other on a loaded subscriber and stage their events
    as one append at ``version`` (optimistic concurrency); the events (maybe none)."""
    events: list[Event] = []
    current: SubscriberState = state
    for command in commands:
        decided = subscriber_decider.decide(current, command)
        events += decided
        current = reduce(subscriber_decider.evolve, decided, current)
    store.append(StreamAppend(stream_id(state.subscriber_id), version, events))
    return events


def double_optin(lists: Mapping[int, str]) -> frozenset[int]:
    """The double opt-in lists among ``lists`` (list id -> opt-in type)."""
    return frozenset(i for i, optin in lists.items() if optin == "double")


@dataclass(frozen=True)
class NewSubscriber:
    """A subscriber to create, validated and normalised; the id comes from the sequence."""

    email: str
    name: str
    status: SubscriberStatus
    attribs: dict[str, Any]
    lists: tuple[int, ...]
    preconfirm: bool
    uuid: str
    at: datetime


def new_subscriber(fields: SubscriberFields, uuid: str, at: datetime) -> NewSubscriber:
    """The subscriber a create body asks for (400 on an invalid e-mail, name or status)."""
    email = fields.create_email()
    name = fields.create_name(email)
    status = fields.status_or("enabled") or "enabled"
    return NewSubscriber(email=email, name=name, status=status, attribs=fields.attribs or {},
                         lists=fields.lists or (), preconfirm=fields.preconfirm, uuid=uuid,
                         at=at)


async def create_subscriber(new: NewSubscriber, store: EventStore) -> dict[str, Any]:
    """``{"subscriber_id": id}`` of the new subscriber; 409 if its e-mail is taken. Unknown
    lists are ignored; double opt-in lists ask for an opt-in e-mail unless preconfirmed."""
    subscriber_id = await store.next_id(SUBSCRIBER_ID_SEQUENCE)
    await claim_email(store, subscriber_id, new.email)
    lists = await live_lists(store, new.lists)
    key = await store.data_key(subscriber_id, create=True)
    assert key is not None  # a fresh id was never erased
    command = CreateSubscriber(
        subscriber_id=subscriber_id, uuid=new.uuid,
        email=seal(key, subscriber_id, "email", new.email),
        name=seal(key, subscriber_id, "name", new.name),
        attribs=seal(key, subscriber_id, "attribs", new.attribs), status=new.status,
        list_ids=existing_lists(new.lists, lists), double_optin=double_optin(lists),
        preconfirm=new.preconfirm, at=new.at)
    # A fresh id's stream is empty: decided on the initial state, appended at version 0.
    store.append(StreamAppend(stream_id(subscriber_id), 0,
                              subscriber_decider.decide(Absent(), command)))
    return {"subscriber_id": subscriber_id}


@dataclass(frozen=True)
class SubscriberUpdate:
    """A PUT (``partial=False``: every field is set) or a PATCH (only the fields sent) of a
    subscriber. ``name``, ``status`` and PUT's ``email`` are checked already; PATCH's e-mail is
    checked once the subscriber is found (``fields.email``)."""

    subscriber_id: int
    fields: SubscriberFields
    partial: bool
    at: datetime
    name: str | None = None
    status: SubscriberStatus | None = None
    email: str | None = None
    scope: ListScope = EVERYTHING  # what the caller's list role reaches


def subscriber_update(subscriber_id: int, fields: SubscriberFields, *, partial: bool,
                      at: datetime) -> SubscriberUpdate:
    """The update a PUT or PATCH body asks for (400 on an invalid name, status or PUT e-mail;
    an empty name or status keeps the current one)."""
    name = fields.update_name()
    status = fields.status_or(None)
    email = None if partial else sanitize_email(fields.email or "")
    return SubscriberUpdate(subscriber_id=subscriber_id, fields=fields, partial=partial, at=at,
                            name=name, status=status, email=email)


async def update_subscriber(update: SubscriberUpdate, store: EventStore) -> dict[str, Any]:
    """Replace (PUT) or patch the subscriber's profile and subscriptions; 404 if it does not
    exist, 409 if the new e-mail is another subscriber's. A PATCH's ``attribs`` are merged into
    the current ones (``null`` clears them), as Go decodes an object into the current map."""
    target, fields = update.subscriber_id, update.fields
    state, version = await load_active(store, target)
    update.scope.check([state])
    key = await store.data_key(target)
    if key is None:
        raise NotFound(SUBSCRIBER_NOT_FOUND)
    attribs: dict[str, Any] | None = fields.attribs or {}
    email = update.email
    if update.partial:
        email = None if fields.email is None else sanitize_email(fields.email)
        attribs = None
        if fields.attribs_sent:
            current = unseal(key, target, "attribs", state.attribs)
            attribs = {**current, **fields.attribs} if fields.attribs is not None else {}
    if email is not None:
        await claim_email(store, target, email)
    lists = await live_lists(store, fields.lists or ())
    keep_lists = update.partial and fields.lists is None
    stage(store, state, version, UpdateSubscriber(
        subscriber_id=target,
        email=seal(key, target, "email", email) if email is not None else None,
        name=seal(key, target, "name", update.name) if update.name is not None else None,
        attribs=seal(key, target, "attribs", attribs) if attribs is not None else None,
        status=update.status,
        list_ids=None if keep_lists else existing_lists(fields.lists or (), lists),
        keep=update.scope.kept(state),
        double_optin=double_optin(lists), preconfirm=fields.preconfirm, at=update.at))
    return {"subscriber_id": target}


async def request_optin(subscriber_id: int, at: datetime, store: EventStore, *,
                        scope: ListScope = EVERYTHING) -> dict[str, Any]:
    """Ask for an opt-in e-mail covering the subscriber's unconfirmed double opt-in lists
    (nothing is recorded when there are none); 404 if it does not exist, 403 out of
    ``scope``."""
    state, version = await load_active(store, subscriber_id)
    scope.check([state])
    lists = await live_lists(store, state.subscriptions)
    stage(store, state, version, RequestOptin(subscriber_id=subscriber_id,
                                              double_optin=double_optin(lists), at=at))
    return {"subscriber_id": subscriber_id}


async def delete_bounces(command: DeleteBounces, store: EventStore, *,
                         scope: ListScope = EVERYTHING) -> dict[str, Any]:
    """Delete the subscriber's bounce records (nothing is recorded when it has none); 403 when
    the subscriber is live and out of ``scope``."""
    if scope.reach is not None:
        state, _ = await store.load(stream_id(command.subscriber_id), subscriber_decider)
        if isinstance(state, Active):
            scope.check([state])
    await decide_on(store, stream_id(command.subscriber_id), bounces_decider, command)
    return {"subscriber_id": command.subscriber_id}
