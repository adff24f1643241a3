"""The handler of ``POST /api/campaigns/:id/deliveries/retry`` and the read it needs.

How many deliveries failed is read from the deliveries read model (the one read of this
command that no stream answers, named as such: ``DeliveryLookups``); the decision is taken on
the campaign's stream (``decider.decide_retry``).
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
import psycopg

from events.store import StreamAppend
from readmodels.deliveries import failed_count
from readmodels.tables import tables_exist
from services.command_api.campaigns.decider import campaign_decider, stream_id
from services.command_api.deliveries.decider import RetryDeliveries, decide_retry
from services.command_api.store import EventStore, Ports


class DeliveryLookups(Protocol):
    """The reads a delivery command needs that no stream answers."""

    async def failed_count(self, campaign_id: int) -> int:
        """How many of the campaign's deliveries are recorded as failed."""
        ...


class PostgresDeliveryLookups:
    """``DeliveryLookups`` on the command's connection."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def failed_count(self, campaign_id: int) -> int:
        if not await tables_exist(self.conn, "campaign_deliveries"):
            return 0
        return await failed_count(self.conn, campaign_id)


LOOKUPS: Ports = {"deliveries": lambda conn, master_key: PostgresDeliveryLookups(conn)}


async def retry_deliveries(command: RetryDeliveries, store: EventStore,
                           deliveries: DeliveryLookups) -> dict[str, Any]:
    """``{"count": n}``: the failed deliveries the sender will send again."""
    sid = stream_id(command.campaign_id)
    state, version = await store.load(sid, campaign_decider)
    failed = await deliveries.failed_count(command.campaign_id)
    events = decide_retry(state, version, msgspec.structs.replace(command, failed=failed))
    store.append(StreamAppend(sid, version, events))
    return {"count": failed if events else 0}
