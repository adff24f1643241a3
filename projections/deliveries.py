"""The ``deliveries`` read model: what happened to each recipient of each campaign.

listmonk keeps no delivery records (its users ask for them: #2616, #1198). This projection
folds the sender's ``delivery.progress`` events into one row per campaign and subscriber:
``status`` ``sent``, ``failed`` or ``retrying`` (failed for now, tried again later),
``attempts`` (every attempt recorded), the last SMTP code (or HTTP status) and, for a failure,
its text. The text may quote the recipient's address, so it is sealed in the event with the
subscriber's key: ``prepare`` loads the batch's keys and ``apply_prepared`` (pure) opens it.
Like every copy of personal data, a subscriber's rows go with ``subscriber.deleted`` (an
erased subscriber's later records carry no text); the e-mail shown by the API is joined from
the subscribers read model when read, never stored here.

Two small tables serve the sender and ``running/stats``: ``delivery_rates`` (messages
delivered per second of the sender's clock, the last ten minutes kept, for listmonk's
``rate``: messages over the last minute) and ``delivery_retry_rounds`` (the last retry asked
for per campaign, so a sender that missed the NATS message still applies it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from events.campaigns import CampaignDeleted
from events.crypto import load_keys
from events.deliveries import DeliveriesRetryRequested, DeliveryProgress, open_error
from events.store import RecordedEvent
from events.subscribers import SubscriberDeleted
from projections.base import Statement, Tables

DELIVERIES = "campaign_deliveries"
RATES = "delivery_rates"
ROUNDS = "delivery_retry_rounds"
RATE_KEPT = "10 minutes"

Keys = dict[int, bytes]

_TYPES = frozenset({"delivery.progress", "subscriber.deleted", "campaign.deleted",
                    "campaign.deliveries_retry_requested"})


@dataclass
class Outcome:
    """One subscriber's results in one progress event, merged."""

    status: str
    attempts: int
    code: int
    error: str


def outcomes(event: DeliveryProgress, keys: Keys) -> dict[int, Outcome]:
    """Each subscriber's final state in ``event`` (temporary failures, then final failures,
    then deliveries, as the sender recorded them), attempts summed. Pure."""
    found: dict[int, Outcome] = {}

    def add(subscriber_id: int, status: str, attempts: int, code: int, error: str) -> None:
        before = found.get(subscriber_id)
        total = attempts + (before.attempts if before else 0)
        found[subscriber_id] = Outcome(status, total, code, error)

    for again in event.retrying:
        add(again.subscriber_id, "retrying", again.attempts, again.code, "")
    for failure in event.failed:
        text = open_error(keys.get(failure.subscriber_id), failure.subscriber_id, failure.error)
        add(failure.subscriber_id, "failed", failure.attempts, failure.code, text)
    for subscriber_id in event.delivered:
        add(subscriber_id, "sent", 1, 0, "")
    return found


class DeliveriesProjection:
    """Delivery records per campaign and subscriber (``GET /api/campaigns/:id/deliveries``)."""

    name = "deliveries"
    categories: tuple[str, ...] = ("delivery", "subscriber", "campaign")
    tables: tuple[str, ...] = (DELIVERIES, RATES, ROUNDS)
    # Deletions by id depend on nothing before them (projections.base.QuarantineAware).
    applied_on_frozen_streams = frozenset({"subscriber.deleted", "campaign.deleted"})

    def __init__(self, master_key: bytes | None = None) -> None:
        self._master_key = master_key

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        return [
            sql.SQL(
                "CREATE TABLE {} ("
                " campaign_id bigint NOT NULL,"
                " subscriber_id bigint NOT NULL,"
                " status text NOT NULL,"
                " attempts integer NOT NULL DEFAULT 0,"
                " code integer NOT NULL DEFAULT 0,"
                " error text NOT NULL DEFAULT '',"
                " messenger text NOT NULL DEFAULT '',"
                " updated_at timestamptz NOT NULL,"
                " PRIMARY KEY (campaign_id, subscriber_id))").format(t[DELIVERIES]),
            sql.SQL("CREATE INDEX ON {} (campaign_id, status, subscriber_id)").format(
                t[DELIVERIES]),
            sql.SQL("CREATE INDEX ON {} (subscriber_id)").format(t[DELIVERIES]),
            sql.SQL(
                "CREATE TABLE {} ("
                " campaign_id bigint NOT NULL,"
                " second timestamptz NOT NULL,"
                " sent integer NOT NULL DEFAULT 0,"
                " PRIMARY KEY (campaign_id, second))").format(t[RATES]),
            sql.SQL(
                "CREATE TABLE {} ("
                " campaign_id bigint PRIMARY KEY,"
                " round integer NOT NULL,"
                " count integer NOT NULL DEFAULT 0,"
                " requested_at timestamptz NOT NULL)").format(t[ROUNDS]),
        ]

    async def prepare(self, conn: psycopg.AsyncConnection[Any],
                      events: Sequence[RecordedEvent]) -> Keys:
        """The data keys of the subscribers whose failure texts the batch opens."""
        ids = {int(f["subscriber_id"]) for e in events if e.type == "delivery.progress"
               for f in e.data.get("failed", ()) if f.get("error")}
        return await load_keys(conn, ids, master_key=self._master_key)

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        """Only through ``apply_prepared``: failure texts need the batch's keys."""
        raise TypeError("the deliveries projection needs prepare(); use batch_statements")

    def apply_prepared(self, event: RecordedEvent, t: Tables, context: Any) -> list[Statement]:
        if event.type not in _TYPES:
            return []
        e = event.decode()
        if isinstance(e, DeliveryProgress):
            return self._progress(e, t, context)
        if isinstance(e, SubscriberDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE subscriber_id = %s").format(t[DELIVERIES]),
                     (e.subscriber_id,))]
        if isinstance(e, CampaignDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE campaign_id = %s").format(t[name]),
                     (e.campaign_id,)) for name in (DELIVERIES, RATES, ROUNDS)]
        if isinstance(e, DeliveriesRetryRequested):
            return [(sql.SQL(
                "INSERT INTO {} (campaign_id, round, count, requested_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (campaign_id) DO UPDATE SET round = EXCLUDED.round,"
                " count = EXCLUDED.count, requested_at = EXCLUDED.requested_at"
                " WHERE {}.round < EXCLUDED.round").format(t[ROUNDS], t[ROUNDS]),
                (e.campaign_id, e.round, e.count, e.at))]
        return []

    def _progress(self, e: DeliveryProgress, t: Tables, keys: Keys) -> list[Statement]:
        found = outcomes(e, keys)
        if not found:
            return []
        ids = list(found)
        table = t[DELIVERIES]
        statements: list[Statement] = [(sql.SQL(
            "INSERT INTO {t} AS d (campaign_id, subscriber_id, status, attempts, code, error,"
            " messenger, updated_at)"
            " SELECT %s, u.id, u.status, u.attempts, u.code, u.error, %s, %s"
            " FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::int[], %s::text[])"
            " AS u(id, status, attempts, code, error)"
            " ON CONFLICT (campaign_id, subscriber_id) DO UPDATE SET status = EXCLUDED.status,"
            " attempts = d.attempts + EXCLUDED.attempts, code = EXCLUDED.code,"
            " error = EXCLUDED.error, messenger = EXCLUDED.messenger,"
            " updated_at = EXCLUDED.updated_at").format(t=table),
            (e.campaign_id, e.messenger, e.at, ids, [found[i].status for i in ids],
             [found[i].attempts for i in ids], [found[i].code for i in ids],
             [found[i].error for i in ids]))]
        if e.delivered:
            rates = t[RATES]
            statements += [
                (sql.SQL("INSERT INTO {} AS r (campaign_id, second, sent)"
                         " VALUES (%s, date_trunc('second', %s::timestamptz), %s)"
                         " ON CONFLICT (campaign_id, second) DO UPDATE"
                         " SET sent = r.sent + EXCLUDED.sent").format(rates),
                 (e.campaign_id, e.at, len(e.delivered))),
                (sql.SQL(f"DELETE FROM {{}} WHERE campaign_id = %s"
                         f" AND second < %s::timestamptz - interval '{RATE_KEPT}'").format(rates),
                 (e.campaign_id, e.at)),
            ]
        return statements
