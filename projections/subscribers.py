"""The ``subscribers`` read model: listmonk's ``subscribers`` and ``subscriber_lists`` tables.

Shaped like listmonk's (same columns; statuses as text), so the query sandbox runs listmonk's
``query=`` expressions against them. Personal data is decrypted here: ``prepare`` loads the data
keys of a batch's subscribers, ``apply_prepared`` (pure) opens the tokens with them. A subscriber
whose key is gone was erased (its ``subscriber.deleted`` follows in the log): its profile
events write nothing, so its data never reaches these tables, even during a rebuild.

``email`` is not unique here: the command side guarantees uniqueness, and a replay must never
stall on a transient clash between two subscribers' e-mails.

A batch (``apply_batch``) writes runs of creations with one multi-row ``INSERT`` and runs of
subscriptions with one multi-row upsert, instead of one statement per event: per-statement
overhead, not Postgres, is what limits a bulk import's catch-up. Anything else is applied one
event at a time, after the runs before it, so the end state is the per-event one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import psycopg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg import sql
from psycopg.types.json import Jsonb

from events.crypto import decrypt_value, field_aad, load_keys
from events.lists import ListDeleted
from events.store import RecordedEvent
from events.subscribers import (
    RemovedFromLists,
    SubscribedToLists,
    SubscriberCreated,
    SubscriberDeleted,
    SubscriberStatusChanged,
    SubscriberUpdated,
    SubscriptionStatusChanged,
)
from projections.base import Statement, Tables

SUBSCRIBERS = "subscribers"
SUBSCRIBER_LISTS = "subscriber_lists"
_PERSONAL_TYPES = frozenset({"subscriber.created", "subscriber.updated"})

Keys = dict[int, bytes]


class SubscribersProjection:
    """Subscribers and their subscriptions: what ``GET /api/subscribers[/:id]`` read."""

    name = "subscribers"
    categories: tuple[str, ...] = ("subscriber", "list")
    tables: tuple[str, ...] = (SUBSCRIBERS, SUBSCRIBER_LISTS)
    # Applied even on a stream frozen by the quarantine (projections.base.QuarantineAware): an
    # erased subscriber's personal data leaves these tables whatever happened before.
    applied_on_frozen_streams = frozenset({"subscriber.deleted", "list.deleted"})

    def __init__(self, master_key: bytes | None = None) -> None:
        self._master_key = master_key

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        subs, subs_lists = t[SUBSCRIBERS], t[SUBSCRIBER_LISTS]
        return [
            sql.SQL(
                "CREATE TABLE {} ("
                " id bigint PRIMARY KEY,"
                " uuid uuid NOT NULL UNIQUE,"
                " email text NOT NULL,"
                " name text NOT NULL,"
                " attribs jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
                " status text NOT NULL DEFAULT 'enabled',"
                " created_at timestamptz NOT NULL,"
                " updated_at timestamptz NOT NULL)"
            ).format(subs),
            sql.SQL("CREATE INDEX ON {} (lower(email))").format(subs),
            # GET /api/subscribers orders by one of these then id, and clients look
            # subscribers up by ``subscribers.email = '...'``: each index serves both.
            sql.SQL("CREATE INDEX ON {} (email, id)").format(subs),
            sql.SQL("CREATE INDEX ON {} (name, id)").format(subs),
            sql.SQL("CREATE INDEX ON {} (status, id)").format(subs),
            sql.SQL("CREATE INDEX ON {} (created_at, id)").format(subs),
            sql.SQL("CREATE INDEX ON {} (updated_at, id)").format(subs),
            sql.SQL(
                "CREATE TABLE {} ("
                " subscriber_id bigint NOT NULL,"
                " list_id bigint NOT NULL,"
                " meta jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
                " status text NOT NULL DEFAULT 'unconfirmed',"
                " created_at timestamptz NOT NULL,"
                " updated_at timestamptz NOT NULL,"
                " PRIMARY KEY (subscriber_id, list_id))"
            ).format(subs_lists),
            sql.SQL("CREATE INDEX ON {} (list_id, status)").format(subs_lists),
            # The sender's recipient pages: a list's subscribers in id order from an id on
            # (also made by migration 018 on tables created before it).
            sql.SQL("CREATE INDEX ON {} (list_id, subscriber_id)").format(subs_lists),
            sql.SQL("CREATE INDEX ON {} (status)").format(subs_lists),
        ]

    async def prepare(
        self, conn: psycopg.AsyncConnection[Any], events: Sequence[RecordedEvent]
    ) -> Keys:
        """The data keys of the subscribers whose profile the batch writes."""
        ids = {int(e.data["subscriber_id"]) for e in events if e.type in _PERSONAL_TYPES}
        return await load_keys(conn, ids, master_key=self._master_key)

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        """Only through ``apply_prepared``: profile events need the batch's keys."""
        raise TypeError("the subscribers projection needs prepare(); use batch_statements")

    def apply_prepared(self, event: RecordedEvent, t: Tables, context: Any) -> list[Statement]:
        keys: Keys = context
        subs, subs_lists = t[SUBSCRIBERS], t[SUBSCRIBER_LISTS]
        e = event.decode()
        if isinstance(e, SubscriberCreated | SubscriberUpdated):
            key = keys.get(e.subscriber_id)
            if key is None:
                return []  # erased: nothing personal may be written
            email, name, attribs = _open(key, e)
            if isinstance(e, SubscriberCreated):
                return [(sql.SQL(
                    "INSERT INTO {} (id, uuid, email, name, attribs, status, created_at,"
                    " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                ).format(subs), (e.subscriber_id, e.uuid, email, name, Jsonb(attribs), e.status,
                                 e.at, e.at))]
            return [(sql.SQL(
                "UPDATE {} SET email = %s, name = %s, attribs = %s, status = %s,"
                " updated_at = %s WHERE id = %s"
            ).format(subs), (email, name, Jsonb(attribs), e.status, e.at, e.subscriber_id))]
        if isinstance(e, SubscriberStatusChanged):
            return [(sql.SQL("UPDATE {} SET status = %s, updated_at = %s WHERE id = %s").format(
                subs), (e.status, e.at, e.subscriber_id))]
        if isinstance(e, SubscribedToLists):
            return [(sql.SQL(
                "INSERT INTO {} (subscriber_id, list_id, status, created_at, updated_at)"
                " SELECT %s, list_id, %s, %s, %s FROM unnest(%s::bigint[]) AS list_id"
                " ON CONFLICT (subscriber_id, list_id) DO UPDATE"
                " SET status = excluded.status, updated_at = excluded.updated_at"
            ).format(subs_lists), (e.subscriber_id, e.status, e.at, e.at, e.list_ids))]
        if isinstance(e, SubscriptionStatusChanged):
            return [(sql.SQL(
                "UPDATE {} SET status = %s, updated_at = %s"
                " WHERE subscriber_id = %s AND list_id = ANY(%s::bigint[])"
            ).format(subs_lists), (e.status, e.at, e.subscriber_id, e.list_ids))]
        if isinstance(e, RemovedFromLists):
            return [(sql.SQL(
                "DELETE FROM {} WHERE subscriber_id = %s AND list_id = ANY(%s::bigint[])"
            ).format(subs_lists), (e.subscriber_id, e.list_ids))]
        if isinstance(e, SubscriberDeleted):
            return [
                (sql.SQL("DELETE FROM {} WHERE subscriber_id = %s").format(subs_lists),
                 (e.subscriber_id,)),
                (sql.SQL("DELETE FROM {} WHERE id = %s").format(subs), (e.subscriber_id,)),
            ]
        if isinstance(e, ListDeleted):  # listmonk cascades a list's deletion
            return [(sql.SQL("DELETE FROM {} WHERE list_id = %s").format(subs_lists),
                     (e.list_id,))]
        return []

    def apply_batch(
        self, events: Sequence[RecordedEvent], t: Tables, context: Any
    ) -> list[Statement]:
        """The batch's statements, runs of creations and of subscriptions merged."""
        keys: Keys = context
        runs = _Runs(t)
        for event in events:
            if event.type == "subscriber.created":
                e = event.decode()
                assert isinstance(e, SubscriberCreated)
                key = keys.get(e.subscriber_id)
                if key is not None:  # erased otherwise: nothing personal may be written
                    email, name, attribs = _open(key, e)
                    runs.created.append((e.subscriber_id, e.uuid, email, name,
                                         msgspec.json.encode(attribs).decode(), e.status, e.at))
            elif event.type == "subscriber.subscribed":
                e = event.decode()
                assert isinstance(e, SubscribedToLists)
                runs.subscribe(e)
            else:
                runs.add(self.apply_prepared(event, t, keys))
        return runs.finish()


Row = tuple[Any, ...]


class _Runs:
    """Statements of a batch, with pending runs of creations and subscriptions.

    The two runs write different tables, so they may wait side by side; any other statement
    flushes both first. A subscription run is flushed before it would upsert the same
    (subscriber, list) twice (Postgres refuses that in one statement).
    """

    def __init__(self, t: Tables) -> None:
        self._t = t
        self.out: list[Statement] = []
        self.created: list[Row] = []
        self._subscribed: list[Row] = []
        self._pairs: set[tuple[int, int]] = set()

    def subscribe(self, e: SubscribedToLists) -> None:
        pairs = {(e.subscriber_id, list_id) for list_id in e.list_ids}
        if not pairs.isdisjoint(self._pairs) or len(pairs) < len(e.list_ids):
            self._flush()
        if len(pairs) < len(e.list_ids):  # a list twice in one event: as apply_prepared does
            self.out.extend(self._subscribed_statement(
                [(e.subscriber_id, list_id, e.status, e.at) for list_id in e.list_ids]))
            return
        self._pairs |= pairs
        self._subscribed.extend((e.subscriber_id, list_id, e.status, e.at)
                                for list_id in e.list_ids)

    def add(self, statements: list[Statement]) -> None:
        if statements:
            self._flush()
            self.out.extend(statements)

    def finish(self) -> list[Statement]:
        self._flush()
        return self.out

    def _flush(self) -> None:
        if self.created:
            columns = [list(c) for c in zip(*self.created, strict=True)]
            self.out.append((sql.SQL(
                "INSERT INTO {} (id, uuid, email, name, attribs, status, created_at, updated_at)"
                " SELECT id, uuid, email, name, attribs::jsonb, status, at, at FROM"
                " unnest(%b::bigint[], %b::uuid[], %b::text[], %b::text[], %b::text[],"
                " %b::text[], %b::timestamptz[]) WITH ORDINALITY"
                " AS r(id, uuid, email, name, attribs, status, at, ord)"
                " ORDER BY ord ON CONFLICT DO NOTHING"
            ).format(self._t[SUBSCRIBERS]), columns))
            self.created = []
        self.out.extend(self._subscribed_statement(self._subscribed))
        self._subscribed, self._pairs = [], set()

    def _subscribed_statement(self, rows: list[Row]) -> list[Statement]:
        if not rows:
            return []
        return [(sql.SQL(
            "INSERT INTO {} (subscriber_id, list_id, status, created_at, updated_at)"
            " SELECT sid, lid, status, at, at FROM unnest(%b::bigint[], %b::bigint[],"
            " %b::text[], %b::timestamptz[]) WITH ORDINALITY AS r(sid, lid, status, at, ord)"
            " ORDER BY ord ON CONFLICT (subscriber_id, list_id) DO UPDATE"
            " SET status = excluded.status, updated_at = excluded.updated_at"
        ).format(self._t[SUBSCRIBER_LISTS]), [list(c) for c in zip(*rows, strict=True)])]


def _open(key: bytes, e: SubscriberCreated | SubscriberUpdated) -> tuple[str, str, Any]:
    """The clear e-mail, name and attribs of a profile event."""
    sid = e.subscriber_id
    aead = AESGCM(key)  # one cipher object for the event's three tokens
    email = decrypt_value(aead, e.email, field_aad(sid, "email"))
    name = decrypt_value(aead, e.name, field_aad(sid, "name"))
    attribs = decrypt_value(aead, e.attribs, field_aad(sid, "attribs"))
    return str(email), str(name), attribs if isinstance(attribs, dict) else {}
