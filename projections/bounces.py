"""The ``bounces`` read model: listmonk's ``bounces`` table.

One row per recorded bounce (``subscriber.bounce_recorded``), removed by
``subscriber.bounces_deleted`` (all of the subscriber's), ``subscriber.bounces_removed`` (some,
by id) and, like listmonk's ``ON DELETE CASCADE``, by ``subscriber.deleted``; a deleted
campaign leaves its bounces with ``campaign_id`` NULL (listmonk's ``ON DELETE SET NULL``).
``meta`` is personal data sealed in the event: ``prepare`` loads the batch's data keys and
``apply_prepared`` (pure) opens it. A bounce of an erased subscriber is not written (its
``subscriber.deleted`` follows in the log), so a rebuild never brings it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from events.bounces import BounceRecorded, BouncesDeleted, BouncesRemoved
from events.campaigns import CampaignDeleted
from events.crypto import decrypt_value, field_aad, load_keys
from events.store import RecordedEvent
from events.subscribers import SubscriberDeleted
from projections.base import Statement, Tables

BOUNCES = "bounces"

Keys = dict[int, bytes]


class BouncesProjection:
    """Subscribers' bounces: what ``GET /api/subscribers/:id/bounces`` reads."""

    name = "bounces"
    categories: tuple[str, ...] = ("subscriber", "campaign")
    tables: tuple[str, ...] = (BOUNCES,)
    # Applied even on a stream frozen by the quarantine (projections.base.QuarantineAware): an
    # erased subscriber's bounces (personal data) leave the table whatever happened before.
    applied_on_frozen_streams = frozenset({"subscriber.deleted", "subscriber.bounces_deleted",
                                           "subscriber.bounces_removed"})

    def __init__(self, master_key: bytes | None = None) -> None:
        self._master_key = master_key

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        table = t[BOUNCES]
        return [
            sql.SQL(
                "CREATE TABLE {} ("
                " id bigint PRIMARY KEY,"
                " subscriber_id bigint NOT NULL,"
                " campaign_id bigint,"
                " type text NOT NULL DEFAULT 'hard',"
                " source text NOT NULL DEFAULT '',"
                " meta jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
                " created_at timestamptz NOT NULL)"
            ).format(table),
            sql.SQL("CREATE INDEX ON {} (subscriber_id, created_at)").format(table),
            sql.SQL("CREATE INDEX ON {} (campaign_id)").format(table),
            sql.SQL("CREATE INDEX ON {} (created_at)").format(table),
        ]

    async def prepare(
        self, conn: psycopg.AsyncConnection[Any], events: Sequence[RecordedEvent]
    ) -> Keys:
        """The data keys of the subscribers whose bounces the batch records."""
        ids = {int(e.data["subscriber_id"]) for e in events
               if e.type == "subscriber.bounce_recorded"}
        return await load_keys(conn, ids, master_key=self._master_key)

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        """Only through ``apply_prepared``: bounces need the batch's keys."""
        raise TypeError("the bounces projection needs prepare(); use batch_statements")

    def apply_prepared(self, event: RecordedEvent, t: Tables, context: Any) -> list[Statement]:
        keys: Keys = context
        table = t[BOUNCES]
        if event.type not in _TYPES:
            return []
        e = event.decode()
        if isinstance(e, BounceRecorded):
            key = keys.get(e.subscriber_id)
            if key is None:
                return []  # erased: nothing personal may be written
            meta = _meta(decrypt_value(key, e.meta, field_aad(e.subscriber_id, "meta")))
            return [(sql.SQL(
                "INSERT INTO {} (id, subscriber_id, campaign_id, type, source, meta, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ).format(table), (e.bounce_id, e.subscriber_id, e.campaign_id, e.kind, e.source,
                              Jsonb(meta), e.at))]
        if isinstance(e, BouncesRemoved):
            return [(sql.SQL("DELETE FROM {} WHERE subscriber_id = %s AND id = ANY(%s)").format(
                table), (e.subscriber_id, list(e.bounce_ids)))]
        if isinstance(e, BouncesDeleted | SubscriberDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE subscriber_id = %s").format(table),
                     (e.subscriber_id,))]
        if isinstance(e, CampaignDeleted):
            return [(sql.SQL("UPDATE {} SET campaign_id = NULL WHERE campaign_id = %s").format(
                table), (e.campaign_id,))]
        return []


def _meta(opened: Any) -> Any:
    """The bounce's meta: any JSON value, as listmonk's ``json.RawMessage``. An object is
    sealed as it is; any other value (a provider's array, a string) as its JSON text."""
    if isinstance(opened, str):
        try:
            return msgspec.json.decode(opened)
        except msgspec.DecodeError:
            return opened
    return {} if opened is None else opened


# Decoding is skipped for the many subscriber and campaign events this projection ignores.
_TYPES = frozenset({"subscriber.bounce_recorded", "subscriber.bounces_deleted",
                    "subscriber.bounces_removed", "subscriber.deleted", "campaign.deleted"})
