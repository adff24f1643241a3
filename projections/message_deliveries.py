"""The ``message_deliveries`` read model: every single message and what became of it.

One row per transactional message, campaign test, opt-in confirmation and admin
notification: its ``kind``, its subscriber (NULL for a recipient who is not one), campaign
and template, the messenger, ``status`` and ``attempts``, the last code and, for a failure
of a subscriber's message, its text (sealed in the event with the subscriber's key:
``prepare`` loads the batch's keys, ``apply_prepared`` stays pure). It serves two readers:

- ``GET /api/subscribers/:id/deliveries`` (``readmodels/message_deliveries.py``), the
  subscriber's history beside the campaign ``deliveries`` read model;
- the sender, which finds the messages waiting here (``status`` ``requested``, ``queued`` or
  ``retrying`` and ``due_at`` passed) and claims them in ``sender.message_leases``. Every
  status here follows from the log, so a rebuild gives the same work list; the message's
  stream, read again by the process that claims it, is what decides whether to send.

Statuses: ``requested`` (an opt-in or notification request the sender has not turned into a
message yet: ``request`` holds what it needs), ``queued``, ``retrying`` (failed for now,
due again at ``due_at``), ``sent``, ``failed``, ``skipped`` (``error`` says why).
``subscriber.deleted`` deletes the subscriber's rows (an erased subscriber leaves no row and
nothing to send); a later record of an erased subscriber's message finds no row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from events.campaigns import CampaignFinished, CampaignPaused
from events.crypto import load_keys
from events.message_deliveries import (
    MessageDelivered,
    MessageFailed,
    MessageSkipped,
    NotificationQueued,
    OptinQueued,
    open_error,
    request_message_id,
)
from events.messages import CampaignTestQueued, TxMessageQueued
from events.store import RecordedEvent
from events.subscribers import OptinRequested, SubscriberDeleted
from projections.base import Statement, Tables

MESSAGES = "message_deliveries"
PENDING = ("requested", "queued", "retrying")

Keys = dict[int, bytes]

_TYPES = frozenset({
    "message.tx_queued", "message.campaign_test_queued", "message.optin_queued",
    "message.notification_queued", "message.delivered", "message.failed", "message.skipped",
    "subscriber.optin_requested", "subscriber.deleted", "campaign.finished", "campaign.paused",
})

_INSERT = (
    "INSERT INTO {t} (message_id, kind, subscriber_id, campaign_id, template_id, messenger,"
    " status, request, source_tx, source_gp, due_at, created_at, updated_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (message_id) DO NOTHING")


class MessageDeliveriesProjection:
    """Single messages and their outcome (see the module's docstring)."""

    name = "message_deliveries"
    categories: tuple[str, ...] = ("message", "subscriber", "campaign")
    tables: tuple[str, ...] = (MESSAGES,)
    # An erased subscriber's rows go whatever happened before (projections.base).
    applied_on_frozen_streams = frozenset({"subscriber.deleted"})

    def __init__(self, master_key: bytes | None = None) -> None:
        self._master_key = master_key

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        table = t[MESSAGES]
        return [
            sql.SQL(
                "CREATE TABLE {} ("
                " message_id uuid PRIMARY KEY,"
                " kind text NOT NULL,"
                " subscriber_id bigint,"
                " campaign_id bigint,"
                " template_id bigint,"
                " messenger text NOT NULL DEFAULT '',"
                " status text NOT NULL,"
                " attempts integer NOT NULL DEFAULT 0,"
                " code integer NOT NULL DEFAULT 0,"
                " error text NOT NULL DEFAULT '',"
                " request jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
                " source_tx bigint NOT NULL DEFAULT 0,"
                " source_gp bigint NOT NULL DEFAULT 0,"
                " due_at timestamptz NOT NULL,"
                " created_at timestamptz NOT NULL,"
                " updated_at timestamptz NOT NULL)").format(table),
            sql.SQL("CREATE INDEX ON {} (due_at) WHERE status IN"
                    " ('requested', 'queued', 'retrying')").format(table),
            sql.SQL("CREATE INDEX ON {} (subscriber_id, updated_at)").format(table),
        ]

    async def prepare(self, conn: psycopg.AsyncConnection[Any],
                      events: Sequence[RecordedEvent]) -> Keys:
        """The data keys of the subscribers whose failure texts the batch opens."""
        ids = {int(e.data["subscriber_id"]) for e in events if e.type == "message.failed"
               and e.data.get("error") and e.data.get("subscriber_id") is not None}
        return await load_keys(conn, ids, master_key=self._master_key)

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        """Only through ``apply_prepared``: failure texts need the batch's keys."""
        raise TypeError("the message_deliveries projection needs prepare()")

    def apply_prepared(self, event: RecordedEvent, t: Tables, context: Any) -> list[Statement]:
        if event.type not in _TYPES:
            return []
        e = event.decode()
        table = t[MESSAGES]
        source = (event.position.tx_id, event.position.global_position)
        if isinstance(e, TxMessageQueued):
            return [_insert(table, e.message_id, "tx", e.subscriber_id, None, e.template_id,
                            e.messenger, "queued", {}, source, e.at)]
        if isinstance(e, CampaignTestQueued):
            return [_insert(table, e.message_id, "campaign_test", e.subscriber_id,
                            e.campaign_id, e.template_id, e.messenger, "queued", {}, source,
                            e.at)]
        if isinstance(e, OptinRequested):
            return [_insert(table, request_message_id(event.event_id, "optin"), "optin",
                            e.subscriber_id, None, None, "email", "requested",
                            {"list_ids": e.list_ids, "explicit": e.explicit}, source, e.at)]
        if isinstance(e, CampaignFinished | CampaignPaused):
            status = "finished" if isinstance(e, CampaignFinished) else "paused"
            reason = e.reason if isinstance(e, CampaignPaused) else ""
            return [_insert(table, request_message_id(event.event_id, "notification"),
                            "notification", None, e.campaign_id, None, "email", "requested",
                            {"status": status, "reason": reason}, source, e.at)]
        if isinstance(e, SubscriberDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE subscriber_id = %s").format(table),
                     (e.subscriber_id,))]
        return self._outcome(e, table, context)

    def _outcome(self, e: Any, table: sql.Identifier, keys: Keys) -> list[Statement]:
        if isinstance(e, OptinQueued):
            return [(sql.SQL("UPDATE {} SET status = 'queued', messenger = %s, updated_at = %s"
                             " WHERE message_id = %s AND status = 'requested'").format(table),
                     (e.messenger, e.at, e.message_id))]
        if isinstance(e, NotificationQueued):
            return [
                _insert(table, e.message_id, "notification", None, e.campaign_id, None,
                        e.messenger, "queued", {"status": e.status, "request_id": e.request_id},
                        (0, 0), e.at),
                (sql.SQL("DELETE FROM {} WHERE message_id = %s AND status = 'requested'")
                 .format(table), (e.request_id,)),
            ]
        if isinstance(e, MessageDelivered):
            return [_update(table, e.message_id, "sent", e.messenger, e.attempt, e.code, "",
                            None, e.at)]
        if isinstance(e, MessageFailed):
            key = keys.get(e.subscriber_id) if e.subscriber_id is not None else None
            # A non-subscriber's text is sealed with its message's key: kept in the log only.
            text = open_error(key, e.message_id, e.subscriber_id, e.error) \
                if e.subscriber_id is not None else ""
            status = "failed" if e.retry_at is None else "retrying"
            return [_update(table, e.message_id, status, e.messenger, e.attempt, e.code, text,
                            e.retry_at, e.at)]
        if isinstance(e, MessageSkipped):
            return [(sql.SQL("UPDATE {} SET status = 'skipped', error = %s, updated_at = %s"
                             " WHERE message_id = %s").format(table),
                     (e.reason, e.at, e.message_id))]
        return []


def _insert(table: sql.Identifier, message_id: str, kind: str, subscriber_id: int | None,
            campaign_id: int | None, template_id: int | None, messenger: str, status: str,
            request: dict[str, Any], source: tuple[int, int], at: Any) -> Statement:
    return (sql.SQL(_INSERT).format(t=table),
            (message_id, kind, subscriber_id, campaign_id, template_id, messenger, status,
             Jsonb(request), source[0], source[1], at, at, at))


def _update(table: sql.Identifier, message_id: str, status: str, messenger: str, attempt: int,
            code: int, error: str, due_at: Any, at: Any) -> Statement:
    return (sql.SQL(
        "UPDATE {} SET status = %s, messenger = %s, attempts = GREATEST(attempts, %s),"
        " code = %s, error = %s, due_at = COALESCE(%s, due_at), updated_at = %s"
        " WHERE message_id = %s").format(table),
        (status, messenger, attempt, code, error, due_at, at, message_id))
